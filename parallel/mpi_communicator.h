// MpiCommunicator: collectives over MPI on host memory; works on any MPI_Comm (it dups it and sets
// MPI_ERRORS_RETURN on the dup, so every failure comes back through GQA_MPI_CHECK as a gqa::Error).
// f16/bf16 sums are done in f32 (convert, reduce, convert back) so T ranks round once, not T times.
//
// Device (CUDA) tensors go to the protected *_device hooks. Here they refuse; the CUDA build
// overrides them to stage through pinned host memory on the caller's stream.
#pragma once

#include <mpi.h>

#include <climits>
#include <cstddef>
#include <string>
#include <vector>

#include "parallel/communicator.h"

namespace gqa {

struct MpiCommunicatorOptions {
  // Largest single MPI message in bytes; larger buffers go in pieces (MPI counts are int).
  // Tests set it small to exercise the chunked paths.
  size_t max_message_bytes = static_cast<size_t>(INT_MAX);
};

class MpiCommunicator : public Communicator {
 public:
  // Requires MPI to be initialized (see MpiSession). Collective over `comm`.
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD, MpiCommunicatorOptions options = {});
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "mpi"; }
  MPI_Comm comm() const { return comm_; }

  void all_reduce_sum(Tensor& t, void* stream = nullptr) override;
  void broadcast(void* data, size_t bytes, int root) override;
  void all_gather(const Tensor& in, Tensor& out, void* stream = nullptr) override;
  void barrier() override;
  bool all_ok(bool ok) override;
  // MPI_Abort on this communicator: every rank of the job exits with exit_code (1 if it is 0).
  [[noreturn]] void abort(int exit_code) override;

 protected:
  // Seam for device buffers (t.device() == Device::kCuda): throw here, staged in the CUDA build.
  virtual void all_reduce_sum_device(Tensor& t, void* stream);
  virtual void all_gather_device(const Tensor& in, Tensor& out, void* stream);
  // Host paths, for a staging subclass to call on its host copies.
  void all_reduce_sum_host(Tensor& t);
  void all_gather_host(const Tensor& in, Tensor& out);

 private:
  void all_reduce_f32(float* data, size_t n);
  void all_gather_piece(const char* send, char* recv, size_t piece, size_t per_rank);

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  size_t max_message_bytes_;
  std::vector<float> scratch_;  // f32 staging for f16/bf16 sums
};

}  // namespace gqa
