// Loads for data a kernel reads once (weights streamed by the decode GEMVs, gemv.cu and
// gemv_mma.cu): a 16-byte load that bypasses L1 and an L2 prefetch hint.
#pragma once

#include <cstdint>

namespace gqa::cuda {

// 16 bytes, streamed: non-coherent path, not kept in L1 (so it evicts nothing the kernel reuses),
// 256-byte L2 prefetch (a warp reads 512 contiguous bytes). volatile keeps it after pdl_wait's
// griddepcontrol.wait.
__device__ __forceinline__ uint4 load_stream(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

// Hints the L2 to fetch the line holding p (no data comes back to the thread). The one global
// access allowed before pdl_wait (pdl.cuh).
__device__ __forceinline__ void prefetch_l2(const void* p) { asm volatile("prefetch.global.L2 [%0];" ::"l"(p)); }

}  // namespace gqa::cuda
