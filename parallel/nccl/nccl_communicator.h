// NcclCommunicator: device-buffer collectives over NCCL, one GPU per rank; host-side collectives
// (broadcast of step inputs, all_ok, barrier, host tensors) go through an MpiCommunicator inside.
//
// Bootstrap (collective over `comm`): each rank selects its GPU, the ranks check that no two of
// them share a GPU (NCCL refuses that; MpiDeviceCommunicator serves it), rank 0 makes the
// ncclUniqueId, MPI_Bcast hands it out, ncclCommInitRank. Every phase before ncclCommInitRank ends
// with all_ok(), so a failure on one rank fails every rank with a message instead of leaving the
// others waiting. A rank whose ncclCommInitRank fails says why and ends the job (MPI_Abort): the
// others may be waiting inside it, where no agreement reaches them. A rank still inside it after
// GQA_NCCL_INIT_TIMEOUT_S seconds (default kDefaultInitTimeoutS; 0: no limit) ends its process
// (core/deadline.h), which under mpirun takes the job down.
// all_reduce_sum is an in-place ncclAllReduce(sum) on the caller's stream (f32, f16, bf16;
// NCCL sums f16/bf16 in their own precision, pairwise, unlike the MPI path's f32 sum).
#pragma once

#include <mpi.h>
#include <nccl.h>

#include <string>

#include "parallel/mpi_communicator.h"

namespace gqa {

class NcclCommunicator final : public Communicator {
 public:
  static constexpr double kDefaultInitTimeoutS = 300;

  // device: this rank's CUDA device (the caller's local rank -> GPU map).
  explicit NcclCommunicator(int device, MPI_Comm comm = MPI_COMM_WORLD);
  ~NcclCommunicator() override;

  int rank() const override { return mpi_.rank(); }
  int size() const override { return mpi_.size(); }
  std::string name() const override { return "nccl"; }
  int device() const { return device_; }

  // Device tensors: NCCL on `stream` (a cudaStream_t; nullptr = the legacy default stream),
  // ordered there, not waited for. Host tensors: MPI, blocking.
  void all_reduce_sum(Tensor& t, void* stream = nullptr) override;
  void all_gather(const Tensor& in, Tensor& out, void* stream = nullptr) override;
  void broadcast(void* data, size_t bytes, int root) override;  // host memory, over MPI
  void barrier() override;
  bool all_ok(bool ok) override;
  bool graph_capturable() const override { return true; }  // ncclAllReduce on the stream
  // MPI_Abort (see the .cpp for why not ncclCommAbort first).
  [[noreturn]] void abort(int exit_code) override;

 private:
  void agree(const std::string& local_error, const char* phase);
  void require_distinct_gpus();

  MpiCommunicator mpi_;
  int device_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace gqa
