// The opt-in a kernel needs to use more than 48 KB of dynamic shared memory (host side).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <mutex>
#include <set>
#include <utility>

#include "kernels/cuda/cuda_check.h"

namespace gqa::cuda {

// Lets `kernel` use `bytes` of dynamic shared memory (above 48 KB needs this opt-in) on the
// current device; the attribute is set once per kernel and device.
template <typename Kernel>
void allow_dynamic_smem(Kernel* kernel, size_t bytes) {
  static std::mutex mu;
  static std::set<std::pair<const void*, int>> prepared;
  int device = 0;
  GQA_CUDA_CHECK(cudaGetDevice(&device));
  const std::pair<const void*, int> key(reinterpret_cast<const void*>(kernel), device);
  std::lock_guard<std::mutex> lock(mu);
  if (prepared.count(key) != 0) return;
  GQA_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
  prepared.insert(key);
}

}  // namespace gqa::cuda
