#include "kernels/cuda/cuda_check.h"

#include <cstdlib>
#include <sstream>

namespace gqa::cuda {

void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line) {
  std::ostringstream os;
  os << call << " failed: " << cudaGetErrorName(err) << " (" << cudaGetErrorString(err) << ")";
  throw_error(os.str(), file, line);
}

void throw_cublas_error(cublasStatus_t st, const char* call, const char* file, int line) {
  std::ostringstream os;
  os << call << " failed: " << cublasGetStatusName(st) << " (" << cublasGetStatusString(st) << ")";
  throw_error(os.str(), file, line);
}

bool env_switch(const char* name, bool default_on) {
  const char* v = std::getenv(name);
  return v == nullptr ? default_on : std::string(v) != "0";
}

bool sync_debug_enabled() {
  static const bool on = env_switch("GQA_CUDA_SYNC_DEBUG", false);
  return on;
}

void check_launch(const char* kernel, const char* file, int line) {
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess && sync_debug_enabled()) err = cudaDeviceSynchronize();
  if (err != cudaSuccess) throw_cuda_error(err, kernel, file, line);
}

}  // namespace gqa::cuda
