#include "kernels/cuda/device_info.h"

#include <cstdio>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/per_device.h"

namespace gqa::cuda {

namespace {

[[maybe_unused]] const bool require_gpu_registered = register_env_switch("GQA_REQUIRE_GPU");

}  // namespace

bool means_no_gpu(cudaError_t err) {
  return err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver || err == cudaErrorStubLibrary;
}

int device_count() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err == cudaSuccess && n > 0) return n;
  if (err != cudaSuccess) cudaGetLastError();  // (clear it: the process goes on without a GPU)
  // No device, or no driver (a machine without a GPU): none. Any other error is a broken GPU
  // setup, not its absence, and must not turn every GPU test into a skip.
  // (cudaErrorStubLibrary: the toolkit's stub libcuda was found, as in containers without a GPU)
  if (err != cudaSuccess && !means_no_gpu(err)) throw_cuda_error(err, "cudaGetDeviceCount", __FILE__, __LINE__);
  const std::string why = err == cudaSuccess ? "0 devices" : cudaGetErrorName(err);
  GQA_CHECK(!env_switch("GQA_REQUIRE_GPU", false),
            "GQA_REQUIRE_GPU is set but this process sees no CUDA device (cudaGetDeviceCount: " << why << ")");
  return 0;
}

std::string device_description(int device) {
  cudaDeviceProp p{};
  GQA_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  char buf[96];  // (the name is appended separately: it alone may fill 256 bytes)
  std::snprintf(buf, sizeof(buf), " (sm_%d%d, %d SMs, %.1f GiB)", p.major, p.minor, p.multiProcessorCount,
                p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
  return std::string(p.name) + buf;
}

namespace {

// The current device's value of `attr`, queried once per device into `cache`.
int cached_attribute(PerDevice<int>& cache, cudaDeviceAttr attr) {
  return cache.get([attr](int device) {
    int n = 0;
    GQA_CUDA_CHECK(cudaDeviceGetAttribute(&n, attr, device));
    return n;
  });
}

}  // namespace

int current_sm_count() {
  static PerDevice<int> sms;
  return cached_attribute(sms, cudaDevAttrMultiProcessorCount);
}

int current_l2_bytes() {
  static PerDevice<int> l2;
  return cached_attribute(l2, cudaDevAttrL2CacheSize);
}

int current_smem_per_sm() {
  static PerDevice<int> smem;
  return cached_attribute(smem, cudaDevAttrMaxSharedMemoryPerMultiprocessor);
}

int current_reserved_smem_per_block() {
  static PerDevice<int> reserved;
  return cached_attribute(reserved, cudaDevAttrReservedSharedMemoryPerBlock);
}

}  // namespace gqa::cuda
