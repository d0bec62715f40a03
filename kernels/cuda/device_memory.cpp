#include "kernels/cuda/device_memory.h"

#include "kernels/cuda/cuda_check.h"

namespace gqa::cuda {

Tensor device_alloc(DType dtype, Shape shape) {
  const size_t bytes = shape_bytes(shape, dtype);
  void* p = nullptr;
  GQA_CUDA_CHECK(cudaMalloc(&p, bytes == 0 ? 256 : bytes));
  std::shared_ptr<void> storage(p, [](void* q) { cudaFree(q); });  // (a deleter: its status ignored, no throw)
  return Tensor(std::move(storage), p, dtype, std::move(shape), Device::kCuda);
}

void copy_to_device(const void* host, Tensor dst, cudaStream_t stream) {
  GQA_CHECK(dst.device() == Device::kCuda, "copy_to_device: destination is not a device tensor");
  GQA_CUDA_CHECK(cudaMemcpyAsync(dst.data(), host, dst.nbytes(), cudaMemcpyHostToDevice, stream));
  GQA_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void copy_to_host(const Tensor& src, void* host, cudaStream_t stream) {
  GQA_CHECK(src.device() == Device::kCuda, "copy_to_host: source is not a device tensor");
  GQA_CUDA_CHECK(cudaMemcpyAsync(host, src.data(), src.nbytes(), cudaMemcpyDeviceToHost, stream));
  GQA_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void fill_bytes(Tensor t, int byte, cudaStream_t stream) {
  GQA_CUDA_CHECK(cudaMemsetAsync(t.data(), byte, t.nbytes(), stream));
}

}  // namespace gqa::cuda
