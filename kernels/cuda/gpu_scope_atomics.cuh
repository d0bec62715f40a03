// Loads and adds on a word in global memory with GPU-scope acquire / release ordering: what blocks
// of one grid hand each other across SMs (the persistent MLP kernel's grid barrier, gqa-bench's
// dependency-cost counter). Generic addresses (valid for any pointer into global memory).
#pragma once

namespace gqa::cuda {

// The word at p, ordered before every later load and store of this thread (ld.acquire.gpu).
__device__ __forceinline__ unsigned load_acquire_gpu(const unsigned* p) {
  unsigned v;
  asm volatile("ld.acquire.gpu.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

// *p += v, ordered after every earlier load and store of this thread (red.release.gpu).
__device__ __forceinline__ void add_release_gpu(unsigned* p, unsigned v) {
  asm volatile("red.release.gpu.add.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

}  // namespace gqa::cuda
