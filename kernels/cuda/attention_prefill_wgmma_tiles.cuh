// Causal flash prefill on Hopper warpgroup MMA (see attention_prefill_wgmma.h): the pieces every
// build shares (the block's shape, the shared-memory tiles, the q and K/V tile loads, one
// warpgroup's QK and PV steps, the row bookkeeping of a pass), in the anonymous namespace of the
// file that includes it (attention_prefill_wgmma_kernels.cuh: the design notes are there).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cuda/ptx>

#include <cmath>
#include <type_traits>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_mma.cuh"
#include "kernels/cuda/attention_prefill_rows.cuh"
#include "kernels/cuda/attention_prefill_wgmma_mask.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/mbarrier_wait.cuh"
#include "kernels/cuda/wgmma.cuh"

namespace gqa::cuda {
namespace {

using namespace attn;

constexpr const char* kOp = "cuda attention (prefill, wgmma)";
constexpr int kWarpGroups = 2;
constexpr int kThreads = 128 * kWarpGroups;
constexpr int kWarps = kThreads / 32;
constexpr int kBlockM = 64 * kWarpGroups;  // packed (token, head) rows per block
static_assert(kThreads >= kBlockM && kBlockM % 32 == 0, "finish_pass and pick_pass: a consumer thread a row, warp 0 over them");
constexpr int kBlockN = 128;               // keys per tile = the N of the QK wgmma
// The producer builds' third warpgroup and their setmaxnreg split (attention_prefill_wgmma_kernels.cuh).
constexpr int kProducerThreads = 128;
constexpr int kProducerRegs = 40, kConsumerRegs = 232;
static_assert(kProducerRegs * 32 + kConsumerRegs * 64 <= 168 * 96, "the sub-partition's registers at launch");

template <typename T, int HD>
struct WgSmem {
  static constexpr uint32_t kCoreBytes = 128;      // one core matrix: 8 rows x 16 bytes
  static constexpr uint32_t kGroupBytes = HD * 16;  // 8 whole rows of a [rows][HD] tile
  static constexpr uint32_t kHalfBytes = kBlockN * 128;  // swizzled tiles: one 64-dim half (q and K/V alike)
  static_assert(kBlockM == kBlockN, "the swizzled q and K/V tiles share kHalfBytes: as many q rows as keys");
  static constexpr int kQChunks = kBlockM * HD / 8;
  static constexpr int kTileChunks = kBlockN * HD / 8;
  static constexpr size_t kQBytes = size_t(kBlockM) * HD * sizeof(T);
  static constexpr size_t kTileBytes = size_t(kBlockN) * HD * sizeof(T);
  static constexpr size_t kBytes = kQBytes + 4 * kTileBytes;  // q, K stages 0-1, V stages 0-1
  // The ping-pong kernel's 3 stages (tiles loaded two ahead): 224 KB at hd 128, within the 227 KB
  // a block may have.
  static constexpr int kPingPongStages = 3;
  static constexpr size_t kPingPongBytes = kQBytes + 2 * kPingPongStages * kTileBytes;
  static_assert(sizeof(T) == 2 && (HD == 64 || HD == 128), "16-bit types, head_dim 64 or 128");
  // 232448 bytes per block (sm_90's 227 KB opt-in) hold the dynamic bytes and the kernels' static
  // shared memory (the row bookkeeping and barriers, ~1.7 KB per ptxas): keep 2 KB for the latter,
  // so growing it fails here rather than in cudaFuncSetAttribute on the GPU.
  static_assert(kPingPongBytes + 2048 <= 232448 && kBytes + 2048 <= 232448, "shared memory past 227 KB per block");
  static_assert(kQChunks % kThreads == 0 && kTileChunks % kThreads == 0, "whole 16-byte copies per thread");
};

// v as lane 0 has it: the same value, which ptxas then knows is the same in every lane of the warp
// (it does not infer that of threadIdx.x / 128) and keeps in a uniform register. The wgmma
// descriptors built from the warpgroup's number then need no per-thread moves: the basic build's
// tile loop 861 -> 826 instructions (sm_90a SASS). Every lane of the warp must call it.
__device__ __forceinline__ int warp_uniform(int v) { return __shfl_sync(0xffffffffu, v, 0); }

// q rows [row0, row0 + kBlockM) of KV head g into dst; rows past the end are zeros. The
// no-swizzle core-matrix layout (chunk c at byte 16c), or with kSwizzle the swizzle build's
// 128-byte-swizzled tile (swizzle128_byte, kBlockM rows; HD / 8 consecutive threads copy a row).
// Copied by kBy threads, this one thread `tid` of them (the consumers by default; the persistent
// build's producers: kProducerThreads).
template <typename T, int HD, bool kSwizzle = false, int kBy = kThreads>
__device__ void load_q_tile(const PrefillParams& p, int g, int row0, unsigned char* dst,
                            int tid = static_cast<int>(threadIdx.x)) {
  using S = WgSmem<T, HD>;
  static_assert(S::kQChunks % kBy == 0, "whole 16-byte copies per thread");
  const T* q = static_cast<const T*>(p.q);
  const auto copy = [&](int i) {
    const int c = tid + i * kBy;
    int r, e;
    uint32_t at;
    if constexpr (kSwizzle) {
      r = c / (HD / 8);
      e = 8 * (c % (HD / 8));
      at = swizzle128_byte(r, e / 8, kBlockM);
    } else {
      wg::core_chunk(c, HD, r, e);
      at = 16u * uint32_t(c);
    }
    size_t off = 0;
    const bool in = q_source(p, g, row0 + r, e, HD, off);
    cp_async_16(dst + at, q + off, in);
  };
  // (unrolled for the consumers; the producers' copies one at a time: 16 unrolled ones held more
  // addresses than their registers)
  if constexpr (kBy == kThreads) {
#pragma unroll
    for (int i = 0; i < S::kQChunks / kBy; ++i) copy(i);
  } else {
#pragma unroll 1
    for (int i = 0; i < S::kQChunks / kBy; ++i) copy(i);
  }
}

// The copies of keys [start, start + kBlockN) of KV head g into one K and one V tile.
template <typename T, int HD>
__device__ __forceinline__ void load_kv_tile(const PrefillParams& p, const int32_t* table, int g, int start, int end,
                                             unsigned char* k_dst, unsigned char* v_dst, int* bad_key) {
  copy_kv_tile<T, HD, CoreTileCopy<HD, kBlockN, kThreads>>(p, table, g, start, end, k_dst, v_dst, bad_key,
                                                           static_cast<int>(threadIdx.x));
}

// One warpgroup's tensor-core work on one tile, in the four steps the ping-pong kernel interleaves
// with the other warpgroup (wgmma_attend_tile runs them back to back):
//   qk_issue   S = q K^T for its 64 q rows (q_wg) and the K tile, asynchronously
//   qk_finish  waits for S
//   pv_issue   P (softmax_tile's p, rounded: pa) V into o, asynchronously
//   pv_finish  waits for o (and keeps pa alive until then: wgmma reads A registers asynchronously)
// (kSwizzle: q and K in the swizzle build's 128-byte-swizzled tiles, swizzle128_byte; q_wg is the
// warpgroup's first row in the first 64-dim half.)
template <typename T, int HD, bool kSwizzle = false>
__device__ __forceinline__ void qk_issue(const unsigned char* q_wg, const unsigned char* k_t,
                                         float (&s)[kBlockN / 8][4]) {
  using S = WgSmem<T, HD>;
#pragma unroll
  for (int nt = 0; nt < kBlockN / 8; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
  const uint64_t q_desc = kSwizzle ? wg::smem_desc_sw128(q_wg, 16, 1024) : wg::smem_desc(q_wg, S::kCoreBytes, S::kGroupBytes);
  const uint64_t k_desc = kSwizzle ? wg::smem_desc_sw128(k_t, 16, 1024) : wg::smem_desc(k_t, S::kCoreBytes, S::kGroupBytes);
  wg::fence_operands(s);
  wg::fence();
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk) {
    // dims 16kk..: two core matrices on; swizzled, 32 bytes on within the 128-byte rows of a 64-dim
    // half, whose tiles (q and K alike: kBlockM == kBlockN rows) are kHalfBytes apart
    const uint64_t step = kSwizzle ? uint64_t((kk / 4) * S::kHalfBytes + (kk % 4) * 32) >> 4
                                   : uint64_t(2 * kk * S::kCoreBytes) >> 4;
    wg::mma_ss<T, kBlockN>(s, q_desc + step, k_desc + step, kk > 0 ? 1 : 0);
  }
  wg::commit();
}

// S = 0 where the kAblateQk timing aid leaves QK out, as values the compiler cannot see (so the
// softmax on them is not folded away).
__device__ __forceinline__ void opaque_zeros(float (&s)[kBlockN / 8][4]) {
#pragma unroll
  for (int nt = 0; nt < kBlockN / 8; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
  wg::fence_operands(s);
}

__device__ __forceinline__ void qk_finish(float (&s)[kBlockN / 8][4]) {
  wg::wait<0>();
  wg::fence_operands(s);
}

template <typename T>
__device__ __forceinline__ void pack_p(const float (&s)[kBlockN / 8][4], uint32_t (&pa)[kBlockN / 16][4]) {
#pragma unroll
  for (int kk = 0; kk < kBlockN / 16; ++kk) p_fragment<T, kBlockN>(s, kk, pa[kk]);
}

// P V with P already rounded into pa (pv_issue without its packing).
template <typename T, int HD, bool kSwizzle = false>
__device__ __forceinline__ void pv_issue_packed(const unsigned char* v_t, const uint32_t (&pa)[kBlockN / 16][4],
                                                float (&o)[HD / 8][4]) {
  using S = WgSmem<T, HD>;
  // N-major view of [key][dim]; swizzled: the next 64 dims one half on (LBO), the next 8 keys 1024
  // bytes on (SBO)
  const uint64_t v_desc = kSwizzle ? wg::smem_desc_sw128(v_t, S::kHalfBytes, 1024)
                                   : wg::smem_desc(v_t, S::kGroupBytes, S::kCoreBytes);
  wg::fence_operands(o);
  wg::fence();
#pragma unroll
  for (int kk = 0; kk < kBlockN / 16; ++kk) {
    // keys 16kk..: two 8-row groups on (swizzled: two 1024-byte atoms)
    const uint64_t step = kSwizzle ? uint64_t(kk * 2048) >> 4 : uint64_t(2 * kk * S::kGroupBytes) >> 4;
    wg::mma_rs_tb<T, HD>(o, pa[kk], v_desc + step);
  }
  wg::commit();
}

template <typename T, int HD, bool kSwizzle = false>
__device__ __forceinline__ void pv_issue(const unsigned char* v_t, const float (&s)[kBlockN / 8][4],
                                         uint32_t (&pa)[kBlockN / 16][4], float (&o)[HD / 8][4]) {
  pack_p<T>(s, pa);
  pv_issue_packed<T, HD, kSwizzle>(v_t, pa, o);
}

template <int HD>
__device__ __forceinline__ void pv_finish(float (&o)[HD / 8][4], uint32_t (&pa)[kBlockN / 16][4]) {
  wg::wait<0>();
  wg::fence_operands(o);
#pragma unroll
  for (int kk = 0; kk < kBlockN / 16; ++kk) {
#pragma unroll
    for (int e = 0; e < 4; ++e) asm volatile("" : "+r"(pa[kk][e])::"memory");  // A is read until the wait
  }
}

// One warpgroup, one tile: its 64 q rows (q_wg) against keys [start, start + kBlockN) (k_t, v_t),
// this lane's rows seeing keys up to limit[0..1]; updates o, m, l as mma_attend_tile does (slack:
// softmax_scores's lazy rescale).
template <typename T, int HD>
__device__ __forceinline__ void wgmma_attend_tile(const unsigned char* q_wg, const unsigned char* k_t,
                                                  const unsigned char* v_t, int start, const int (&limit)[2],
                                                  float scale_log2, float (&o)[HD / 8][4], float (&m)[2],
                                                  float (&l)[2], float slack) {
  float s[kBlockN / 8][4];
  qk_issue<T, HD>(q_wg, k_t, s);
  qk_finish(s);
  softmax_tile<HD, kBlockN>(s, start, limit, scale_log2, o, m, l, slack);
  uint32_t pa[kBlockN / 16][4];
  pv_issue<T, HD>(v_t, s, pa, o);
  pv_finish<HD>(o, pa);
}

// The row bookkeeping and q tile both builds start with: rows of the block, q staged in shared
// memory (visible to this thread's wgmma once the caller's next barrier has passed).
template <typename T, int HD, bool kSwizzle = false>
__device__ __forceinline__ void start_block(const PrefillParams& p, int g, int row0, PrefillRowInfo<kBlockM>& ri,
                                            unsigned char* q_s) {
  init_rows(p, row0, ri);
  if (threadIdx.x < kThreads) load_q_tile<T, HD, kSwizzle>(p, g, row0, q_s);  // (not a producer)
  cp_async_commit();
  cp_async_wait<0>();
  wg::fence_proxy_async();
}

// One pass of a block (attention_prefill_rows.cuh): its sequence, the keys [0, end) it streams,
// this lane's rows' last visible keys and the last key any row of the warpgroup sees.
struct WgPass {
  int seq, end, limit[2], group_limit;
};

// Picks the next pass (every thread; the first barrier also ends the previous pass): false when
// every row is done. A producer's (warp >= kWarps) limits are -1: it has no rows.
__device__ __forceinline__ bool next_pass(PrefillRowInfo<kBlockM>& ri, int (&warp_limits)[kWarps], WgPass& ps) {
  __syncthreads();
  if (threadIdx.x < 32) pick_pass(ri);  // (warp 0, a consumer warp)
  __syncthreads();
  ps.seq = ri.pass_seq;
  ps.end = ri.pass_end;
  if (ps.seq < 0) return false;
  const int warp = threadIdx.x / 32, group = warp / 4;
  const bool consumer = warp < kWarps;  // warp-uniform
  ps.limit[0] = ps.limit[1] = ps.group_limit = -1;
  if (consumer) {
    const int wl = pass_limits(ri, ps.seq, ps.limit);
    if (threadIdx.x % 32 == 0) warp_limits[warp] = wl;
  }
  __syncthreads();
  if (consumer) {
#pragma unroll
    for (int w = 0; w < 4; ++w) ps.group_limit = max(ps.group_limit, warp_limits[4 * group + w]);
  }
  return true;
}

}  // namespace
}  // namespace gqa::cuda
