#include "parallel/nccl/mpi_device_communicator.h"

#include <cuda_runtime.h>

#include "core/error.h"
#include "parallel/nccl/nccl_check.h"

namespace gqa {
namespace {

void copy_and_wait(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  GQA_CUDART_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, stream));
  GQA_CUDART_CHECK(cudaStreamSynchronize(stream));
}

}  // namespace

PinnedBuffer::~PinnedBuffer() {
  if (data_ != nullptr) cudaFreeHost(data_);  // no throw from a destructor
}

void* PinnedBuffer::ensure(size_t bytes) {
  if (bytes <= bytes_ && data_ != nullptr) return data_;
  if (data_ != nullptr) GQA_CUDART_CHECK(cudaFreeHost(data_));
  data_ = nullptr;
  bytes_ = 0;
  GQA_CUDART_CHECK(cudaHostAlloc(&data_, bytes == 0 ? 1 : bytes, cudaHostAllocPortable));
  bytes_ = bytes;
  return data_;
}

MpiDeviceCommunicator::MpiDeviceCommunicator(MPI_Comm comm, MpiCommunicatorOptions options)
    : MpiCommunicator(comm, options) {}

void MpiDeviceCommunicator::all_reduce_sum_device(Tensor& t, void* stream) {
  const size_t bytes = t.nbytes();
  if (bytes == 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  void* host = send_.ensure(bytes);
  copy_and_wait(host, t.data(), bytes, cudaMemcpyDeviceToHost, s);  // waits for t's producers
  Tensor staged = Tensor::view(host, t.dtype(), t.shape());
  all_reduce_sum_host(staged);
  copy_and_wait(t.data(), host, bytes, cudaMemcpyHostToDevice, s);  // the buffer is reused next call
}

void MpiDeviceCommunicator::all_gather_device(const Tensor& in, Tensor& out, void* stream) {
  const size_t per_rank = in.nbytes();
  if (per_rank == 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  void* send = send_.ensure(per_rank);
  void* recv = recv_.ensure(out.nbytes());
  copy_and_wait(send, in.data(), per_rank, cudaMemcpyDeviceToHost, s);  // also covers in == a row of out
  Tensor host_in = Tensor::view(send, in.dtype(), in.shape());
  Tensor host_out = Tensor::view(recv, out.dtype(), out.shape());
  all_gather_host(host_in, host_out);
  copy_and_wait(out.data(), recv, out.nbytes(), cudaMemcpyHostToDevice, s);
}

}  // namespace gqa
