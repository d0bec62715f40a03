// Hopper warpgroup MMA (wgmma.mma_async, PTX ISA 9.7.15) for the wgmma prefill: one warpgroup
// (4 warps, 128 threads) computes a 64 x N f32 accumulator d; warp w of the group holds rows
// 16w..16w+15 in the mma.sync C layout (d[nt][e] = row gid + 8 (e / 2), col 8 nt + 2 tig + e % 2).
//   mma_ss     d = (scale_d ? d : 0) + A B, A (64 x 16) and B (N x 16) both K-major in shared memory
//   mma_rs_tb  d += A B, A (64 x 16) from registers (the mma.sync m16n8k16 A layout per warp), B
//              (16 x N) N-major ("transposed") in shared memory
// Shared operands are given by descriptors of the no-swizzle canonical layouts (smem_desc; the
// 128-byte swizzle's: smem_desc_sw128, below):
// 8 x 16-byte "core matrices" of 128 contiguous bytes; K-major: element (row r, col c) at
// (r % 8) * 16 + (c % 8) * 2 + (r / 8) * SBO + (c / 8) * LBO bytes; N-major: element (k, n) at
// (k % 8) * 16 + (n % 8) * 2 + (n / 8) * SBO + (k / 8) * LBO bytes.
// Protocol: fence() before the first mma of a batch (registers written since), commit(), then
// wait<0>() before reading d or reusing A's registers or the shared operands. The instructions
// exist only in sm_90a code: elsewhere these functions fail a named device assert, and wg::kCompiled is false.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/cuda/wgmma_operands.h"
#include "kernels/cuda/device_require.cuh"

namespace gqa::cuda::wg {

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
constexpr bool kCompiled = true;
#else
constexpr bool kCompiled = false;
#endif

__device__ __forceinline__ void unsupported() {
  GQA_DEVICE_REQUIRE(false, "wgmma: this kernel was compiled without sm_90a's features (the host launches it only from an sm_90a build)");
}

// Row and first column of 16-byte chunk number c of a [rows][cols] tile of 16-bit elements in
// the no-swizzle core-matrix layout with LBO = 128 bytes (the next 8 columns) and SBO = cols * 16
// (the next 8 rows): that chunk lives at byte 16c, so consecutive threads fill shared memory
// contiguously.
__device__ __forceinline__ void core_chunk(int c, int cols, int& row, int& col) {
  row = (c / cols) * 8 + c % 8;
  col = ((c / 8) % (cols / 8)) * 8;
}

// The 64-bit matrix descriptor: start address, LBO and SBO in 16-byte units, no swizzle.
__device__ __forceinline__ uint64_t smem_desc(const void* smem, uint32_t lbo_bytes, uint32_t sbo_bytes) {
  const uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  return uint64_t((addr & 0x3FFFFu) >> 4) | (uint64_t((lbo_bytes & 0x3FFFFu) >> 4) << 16) |
         (uint64_t((sbo_bytes & 0x3FFFFu) >> 4) << 32);
}

// The same with the 128-byte swizzle (layout type 1, bits 62-63): the operand lies in 1024-byte
// atoms of 8 rows x 128 bytes whose 16-byte chunk c of row r sits at chunk (c ^ r % 8) of its row
// (swizzle128_byte, prefill_tile_copy.h); atoms must start 1024-byte aligned. K-major: SBO = the
// next 8 rows (1024 for a dense tile), LBO unused (16); a k16 step moves the start address 32 bytes
// within the 128-byte row. MN-major: LBO = the next 64 MN elements (the next atom column), SBO =
// the next 8 K rows (1024).
__device__ __forceinline__ uint64_t smem_desc_sw128(const void* smem, uint32_t lbo_bytes, uint32_t sbo_bytes) {
  return smem_desc(smem, lbo_bytes, sbo_bytes) | (uint64_t(1) << 62);
}

// The first 1024-byte-aligned address from smem, a dynamic shared memory base (only 16-byte
// aligned as such): where 128-byte-swizzled operands, whose atoms are 1024-byte aligned, start.
__device__ __forceinline__ unsigned char* aligned_1024(unsigned char* smem) {
  const uint32_t at = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  return smem + (1024u - at % 1024u) % 1024u;
}

__device__ __forceinline__ void fence() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void commit() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
template <int N>
__device__ __forceinline__ void wait() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}
// Makes shared-memory writes of the generic proxy (st.shared, cp.async) visible to the async
// proxy that wgmma reads through; each writing thread runs it before the barrier that publishes them.
__device__ __forceinline__ void fence_proxy_async() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}
// Pins accumulator registers at this point of the program: the compiler may neither read them
// before an earlier wait() nor move writes to them across a later fence().
template <int R>
__device__ __forceinline__ void fence_operands(float (&d)[R][4]) {
#pragma unroll
  for (int i = 0; i < R; ++i) {
#pragma unroll
    for (int e = 0; e < 4; ++e) asm volatile("" : "+f"(d[i][e])::"memory");
  }
}

template <typename T, int N>
__device__ void mma_ss(float (&d)[N / 8][4], uint64_t a_desc, uint64_t b_desc, int scale_d);
template <typename T, int N>
__device__ void mma_rs_tb(float (&d)[N / 8][4], const uint32_t (&a)[4], uint64_t b_desc);

// mma_ss<T, N> and mma_rs_tb<T, N> for one element type (PTX name PTX) and one N.
#define GQA_WG_DEFINE(T, PTX, N)                                                                              \
  template <>                                                                                                 \
  __device__ __forceinline__ void mma_ss<T, N>(float(&d)[N / 8][4], uint64_t a_desc, uint64_t b_desc,         \
                                               int scale_d) {                                                 \
    GQA_WG_ASM(GQA_WG_SS_PRED_##N "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." PTX "." PTX " " GQA_WG_D_##N \
                   GQA_WG_SS_TAIL_##N                                                                         \
               : GQA_WG_D_OPERANDS_##N                                                                        \
               : "l"(a_desc), "l"(b_desc), "r"(scale_d));                                                     \
  }                                                                                                           \
  template <>                                                                                                 \
  __device__ __forceinline__ void mma_rs_tb<T, N>(float(&d)[N / 8][4], const uint32_t(&a)[4], uint64_t b_desc) { \
    GQA_WG_ASM("wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." PTX "." PTX " " GQA_WG_D_##N GQA_WG_RS_TAIL_##N \
               : GQA_WG_D_OPERANDS_##N                                                                        \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b_desc));                                    \
  }

// The instruction where sm_90a code is compiled; a named device assert elsewhere (unsupported()).
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define GQA_WG_ASM(...) asm volatile(__VA_ARGS__)
#else
#define GQA_WG_ASM(...) unsupported()
#endif

GQA_WG_DEFINE(__nv_bfloat16, "bf16", 64)
GQA_WG_DEFINE(__nv_bfloat16, "bf16", 128)
GQA_WG_DEFINE(__half, "f16", 64)
GQA_WG_DEFINE(__half, "f16", 128)

}  // namespace gqa::cuda::wg
