// Checks for the NCCL and CUDA runtime calls of the GPU communicators: a failure throws
// gqa::Error naming the call, the library's error text and file:line. (parallel/ does not
// depend on kernels/, so this is its own small copy of the CUDA check.)
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "core/error.h"

namespace gqa::detail {

[[noreturn]] inline void throw_cudart_error(cudaError_t err, const char* call, const char* file, int line) {
  throw_error(std::string(call) + " failed: " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")", file,
              line);
}

}  // namespace gqa::detail

#define GQA_CUDART_CHECK(call)                                                    \
  do {                                                                            \
    const cudaError_t gqa_cudart_err_ = (call);                                   \
    if (gqa_cudart_err_ != cudaSuccess)                                           \
      ::gqa::detail::throw_cudart_error(gqa_cudart_err_, #call, __FILE__, __LINE__); \
  } while (0)

#ifdef GQA_HAVE_NCCL
#include <nccl.h>

namespace gqa::detail {

[[noreturn]] inline void throw_nccl_error(ncclResult_t r, const char* call, const char* file, int line) {
  std::string msg = std::string(call) + " failed: " + ncclGetErrorString(r);
  const char* last = ncclGetLastError(nullptr);  // NCCL's detail for this thread, when it has one
  if (last != nullptr && last[0] != '\0') msg += std::string(" (") + last + ")";
  throw_error(msg, file, line);
}

}  // namespace gqa::detail

#define GQA_NCCL_CHECK(call)                                                      \
  do {                                                                            \
    const ncclResult_t gqa_nccl_rc_ = (call);                                     \
    if (gqa_nccl_rc_ != ncclSuccess)                                              \
      ::gqa::detail::throw_nccl_error(gqa_nccl_rc_, #call, __FILE__, __LINE__);   \
  } while (0)
#endif
