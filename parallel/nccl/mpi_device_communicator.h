// MpiDeviceCommunicator: the MPI communicator for CUDA device buffers, staged through pinned host
// memory, so several ranks can share one GPU (which NCCL refuses) and a one-GPU machine still
// runs T = 2, 4. Each device collective: wait for the caller's stream, copy the tensor to the
// host, run the host collective (f16/bf16 summed in f32, as for host tensors), copy back and
// wait again. Slow by design (two PCIe copies and a stream sync per call), but exact to the
// MPI host path, and independent of a CUDA-aware MPI.
#pragma once

#include <mpi.h>

#include <cstddef>

#include "parallel/mpi_communicator.h"

namespace gqa {

// A growable pinned (page-locked, portable) host buffer.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer();
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void* ensure(size_t bytes);  // at least `bytes`, contents not kept across growth

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

class MpiDeviceCommunicator final : public MpiCommunicator {
 public:
  explicit MpiDeviceCommunicator(MPI_Comm comm = MPI_COMM_WORLD, MpiCommunicatorOptions options = {});

 protected:
  // stream: the cudaStream_t the tensor's producers ran on (nullptr = legacy default stream).
  void all_reduce_sum_device(Tensor& t, void* stream) override;
  void all_gather_device(const Tensor& in, Tensor& out, void* stream) override;

 private:
  PinnedBuffer send_;
  PinnedBuffer recv_;
};

}  // namespace gqa
