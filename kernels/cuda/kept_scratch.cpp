#include "kernels/cuda/kept_scratch.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>

#include "kernels/cuda/cuda_check.h"

namespace gqa::cuda {

void* kept_scratch(KeptScratch kind, cudaStream_t stream, size_t bytes) {
  const bool zeroed = kind == KeptScratch::kMergeCounters;
  struct Buffer {
    void* ptr = nullptr;
    size_t bytes = 0;
  };
  static std::mutex mu;
  static std::map<std::tuple<KeptScratch, int, cudaStream_t, std::thread::id>, Buffer> buffers;
  int device = 0;
  GQA_CUDA_CHECK(cudaGetDevice(&device));
  const std::thread::id thread = stream == cudaStreamPerThread ? std::this_thread::get_id() : std::thread::id{};
  std::lock_guard<std::mutex> lock(mu);
  Buffer& b = buffers[{kind, device, stream, thread}];
  if (b.bytes >= bytes) return b.ptr;
  if (zeroed) {
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    GQA_CUDA_CHECK(cudaStreamIsCapturing(stream, &capture));
    if (capture != cudaStreamCaptureStatusNone) return nullptr;
  }
  const size_t grown = std::max<size_t>({bytes, 2 * b.bytes, 16384});
  void* ptr = nullptr;
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  GQA_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
  const cudaError_t allocated = cudaMalloc(&ptr, grown);
  GQA_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));  // back to the thread's own mode
  if (allocated != cudaSuccess) {
    cudaGetLastError();  // (clear it: the error is reported here, not at the next launch check)
    throw_cuda_error(allocated, "cudaMalloc (the decode attention's scratch)", __FILE__, __LINE__);
  }
  if (zeroed) GQA_CUDA_CHECK(cudaMemsetAsync(ptr, 0, grown, stream));
  b.ptr = ptr;  // (the old buffer, if any, stays allocated: see above)
  b.bytes = grown;
  return b.ptr;
}

int* stream_merge_counters(cudaStream_t stream, size_t count) {
  return static_cast<int*>(kept_scratch(KeptScratch::kMergeCounters, stream, count * sizeof(int)));
}

}  // namespace gqa::cuda
