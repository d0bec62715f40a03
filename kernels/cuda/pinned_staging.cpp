#include "kernels/cuda/pinned_staging.h"

#include "kernels/cuda/cuda_check.h"

namespace gqa::cuda {

PinnedStaging::PinnedStaging(size_t capacity) : capacity_(capacity) {
  void* p = nullptr;
  GQA_CUDA_CHECK(cudaMallocHost(&p, capacity_));
  ring_ = static_cast<char*>(p);
}

PinnedStaging::~PinnedStaging() { cudaFreeHost(ring_); }  // no throw: teardown path

void* PinnedStaging::reserve(size_t bytes, cudaStream_t stream) {
  // A copy recorded into a graph would re-read this ring region at every replay, long after it
  // has been reused: uploads must happen before Ops::run_graph, never inside it.
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  GQA_CUDA_CHECK(cudaStreamIsCapturing(stream, &capture));
  GQA_CHECK(capture == cudaStreamCaptureStatusNone,
            "CudaOps upload while the stream is being recorded into a graph: upload before run_graph");
  if (bytes > capacity_ / 2) return nullptr;
  if (used_ + bytes > capacity_) {
    // Earlier regions may still be in flight: wait for them before overwriting.
    GQA_CUDA_CHECK(cudaStreamSynchronize(stream));
    used_ = 0;
  }
  void* p = ring_ + used_;
  used_ += (bytes + 255) / 256 * 256;  // keep every region 256-byte aligned
  return p;
}

void PinnedStaging::queue(const void* staged, size_t bytes, void* device_dst, cudaStream_t stream) {
  GQA_CUDA_CHECK(cudaMemcpyAsync(device_dst, staged, bytes, cudaMemcpyHostToDevice, stream));
}

}  // namespace gqa::cuda
