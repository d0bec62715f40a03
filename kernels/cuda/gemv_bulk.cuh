// The decode GEMVs' bulk-copy build (gemv.h: GemvTuning::bulk, GQA_GEMV_BULK; the default where
// it serves): W rows copied into shared memory by cp.async.bulk before the wait, the same row
// groups, arithmetic and epilogues as gemv_kernel.cuh's per-thread build, with the fused add +
// RMSNorm applied inline (kNorm); the ring build (gemv_ring.cuh) shares its copies and arithmetic.
// Included only by the GEMV launch (gemv_launch.cuh) and the ring build.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda/ptx>

#include "kernels/cuda/gemv_kernel.cuh"
#include "kernels/cuda/mbarrier_wait.cuh"

namespace gqa::cuda::gemv_detail {

// acc = the R rows of W at ws (shared memory, rows kc 16-byte chunks apart) dotted with the N rows
// of x (xv), over this thread's chunks t, t + stride, ...: the bulk and ring builds' arithmetic.
template <typename T, int N, int R>
__device__ __forceinline__ void dot_rows_in_smem(const uint4* ws, const uint4* xv, int kc, int t, int stride,
                                                 float (&acc)[N][R]) {
#pragma unroll
  for (int i = 0; i < N; ++i) {
#pragma unroll
    for (int r = 0; r < R; ++r) acc[i][r] = 0.0f;
  }
  for (int c = t; c < kc; c += stride) {
    uint4 wv[R];
#pragma unroll
    for (int r = 0; r < R; ++r) wv[r] = ws[static_cast<size_t>(r) * kc + c];
    fma_chunk<T, N>(wv, xv, kc, c, acc);
  }
}

// dot_rows_in_smem with the add + RMSNorm applied inline (the bulk build's kNorm): x row i's chunk
// c is h = x + residual (rounded to T, as rmsnorm.cu rounds it; x alone without a residual), whose
// squares go to sq[i][0] (f32) and whose product with the norm weight (in f32, not rounded) is dotted
// with W; the caller scales each sum by its row's 1 / rms once every chunk is in (so no pass over
// x comes before the first FMA: the loads of x, residual and weight go out together, where the
// prologue (norm_prologue) waits for two rounds of them and two block barriers). `writer`: this
// thread also stores its chunks of h to p.x_out (one row group of one block covers every chunk).
template <typename T, int N, int R>
__device__ __forceinline__ void dot_rows_in_smem_norm(const uint4* ws, const NormIn<T>& p, int kc, int t, int stride,
                                                      bool writer, float (&acc)[N][R], float (&sq)[N][1]) {
  using P = Pack<T, 8>;
  const uint4* xg = reinterpret_cast<const uint4*>(p.x);
  const uint4* rg = reinterpret_cast<const uint4*>(p.residual);
  const uint4* gw = reinterpret_cast<const uint4*>(p.weight);
  uint4* xo = writer ? reinterpret_cast<uint4*>(p.x_out) : nullptr;
#pragma unroll
  for (int i = 0; i < N; ++i) {
    sq[i][0] = 0.0f;
#pragma unroll
    for (int r = 0; r < R; ++r) acc[i][r] = 0.0f;
  }
#pragma unroll 2
  for (int c = t; c < kc; c += stride) {
    float wf[R][8];
#pragma unroll
    for (int r = 0; r < R; ++r) unpack16<T>(ws[static_cast<size_t>(r) * kc + c], wf[r]);
    float g[8];
    unpack16<T>(gw[c], g);
    // every row's x and residual loaded before any x_out store (which, as far as the compiler
    // knows, may alias them: loads after it would wait for it)
    uint4 xr[N], rr[N];
#pragma unroll
    for (int i = 0; i < N; ++i) {
      xr[i] = xg[static_cast<size_t>(i) * kc + c];
      rr[i] = rg != nullptr ? rg[static_cast<size_t>(i) * kc + c] : make_uint4(0u, 0u, 0u, 0u);
    }
#pragma unroll
    for (int i = 0; i < N; ++i) {
      const P h = rg != nullptr ? add_rounded(as_pack<T>(xr[i]), as_pack<T>(rr[i])) : as_pack<T>(xr[i]);
      if (xo != nullptr) xo[static_cast<size_t>(i) * kc + c] = as_raw<T>(h);
      sq[i][0] += sum_squares(h);
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        const float hg = load_f32(h.e[e]) * g[e];
#pragma unroll
        for (int r = 0; r < R; ++r) acc[i][r] = fmaf(hg, wf[r][e], acc[i][r]);
      }
    }
  }
}

// Thread 0 of the bulk and ring builds: the copies of unit `unit` (row groups unit * groups ..,
// R rows of k each) into dst ([groups][R][kc] 16-byte chunks), one cp.async.bulk per W row,
// completing on `bar`, which this arrives on expecting all their bytes.
template <typename T, int R, class M>
__device__ __forceinline__ void copy_unit_rows(const T* __restrict__ w, const M& map, long long unit, int groups,
                                               int k, uint4* dst, uint64_t* bar) {
  namespace ptx = ::cuda::ptx;
  const int kc = k / 8;
  const uint32_t row_bytes = static_cast<uint32_t>(k) * sizeof(T);
  ptx::mbarrier_arrive_expect_tx(ptx::sem_release, ptx::scope_cta, ptx::space_shared, bar,
                                 row_bytes * static_cast<uint32_t>(groups * R));
  for (int g = 0; g < groups; ++g) {
    for (int r = 0; r < R; ++r) {
      ptx::cp_async_bulk(ptx::space_cluster, ptx::space_global, dst + static_cast<size_t>(g * R + r) * kc,
                         w + map.template row<R>(unit * groups + g, r) * k, row_bytes, bar);
    }
  }
}

// The bulk-copy build (the default; GemvTuning::bulk, GQA_GEMV_BULK): the same row groups and arithmetic, but
// W reaches the block through the copy engine instead of per-thread loads: thread 0 issues one
// cp.async.bulk per W row of the block's groups (8 / G groups x R rows of k elements, all in
// dynamic shared memory; before pdl_wait: W is never written during a step), the block waits on
// one mbarrier, and the group's threads read their chunks from shared memory (consecutive threads,
// consecutive 16 bytes: no bank conflicts). Many such blocks per SM keep the bytes in flight.
// kNorm (the fused add + RMSNorm, gemv.h): x is not read; each row group dots W with norm's rows
// inline (dot_rows_in_smem_norm) and scales its sums by each row's 1 / rms (the row group's
// threads cover the whole row, so its own squares give the rms); block 0's first group writes
// norm.x_out.
template <typename T, int N, class M, bool kNorm = false>
__global__ void __launch_bounds__(kThreads)
    gemv_bulk_kernel(const T* __restrict__ x, const T* __restrict__ w, const M map, int k, int group_warps,
                     const NormIn<T> norm) {
  constexpr int R = Tile<N>::rows;
  extern __shared__ __align__(128) uint4 w_s[];  // [groups][R][kc]
  __shared__ __align__(8) uint64_t full;
  __shared__ float partial[kWarps][N * R];
  namespace ptx = ::cuda::ptx;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int groups = kWarps / group_warps, group = warp / group_warps;
  const int t = (warp % group_warps) * 32 + lane, stride = group_warps * 32;
  const int kc = k / 8;
  if (threadIdx.x == 0) {
    ptx::mbarrier_init(&full, 1);
    ptx::fence_mbarrier_init(ptx::sem_release, ptx::scope_cluster);
    copy_unit_rows<T, R>(w, map, blockIdx.x, groups, k, w_s, &full);
  }
  pdl_wait();
  __syncthreads();  // the barrier initialised before anyone waits on it
  mbarrier_wait(&full, 0);
  const uint4* ws = w_s + static_cast<size_t>(group) * R * kc;
  float acc[N][R];
  if constexpr (kNorm) {
    __shared__ float sq_partial[kWarps][N];
    float sq[N][1];  // (a "row" of its own for reduce_to_partial)
    dot_rows_in_smem_norm<T, N, R>(ws, norm, kc, t, stride, blockIdx.x == 0 && group == 0, acc, sq);
    reduce_to_partial<N, R>(acc, partial);
    reduce_to_partial<N, 1>(sq, sq_partial);
    __syncthreads();
    store_from_partial<N, R>(partial, map, group_warps, blockIdx.x, [&](int g, int i) {
      float total = 0.0f;
      for (int q = 0; q < group_warps; ++q) total += sq_partial[g * group_warps + q][i];
      return rsqrtf(total / k + norm.eps);  // as the prologue and rmsnorm.cu
    });
  } else {
    const uint4* xv = reinterpret_cast<const uint4*>(x);
    dot_rows_in_smem<T, N, R>(ws, xv, kc, t, stride, acc);
    reduce_and_store<N, R>(acc, partial, map, group_warps, blockIdx.x);
  }
}

// The bulk build's warps per row group: as many row groups per block as fit kGemvBulkTargetBytes of
// shared memory (at least one: a block's copies are one batch; smaller blocks leave more of them
// resident per SM), and whether the build serves k at all (one group's rows within
// kGemvBulkMaxBytes).
constexpr int64_t kGemvBulkTargetBytes = 32 * 1024;
inline int bulk_group_warps(int64_t k, int rows, size_t elem, int64_t target = kGemvBulkTargetBytes) {
  const auto bytes = [&](int g) { return int64_t{kWarps / g} * rows * k * static_cast<int64_t>(elem); };
  int g = kWarps;
  while (g > 1 && bytes(g / 2) <= target) g /= 2;
  return g;
}
// A bulk block's unit for `groups` row groups of R rows of k elements near `target` bytes of W:
// warps per row group, blocks, and the W bytes (dynamic shared memory) of one block.
struct BulkUnit {
  int group_warps;
  int64_t units;
  size_t bytes;
};
inline BulkUnit bulk_unit(int64_t k, int rows, size_t elem, int64_t groups, int64_t target) {
  const int g = bulk_group_warps(k, rows, elem, target);
  const int64_t per = kWarps / g;
  return {g, (groups + per - 1) / per, static_cast<size_t>(per) * rows * static_cast<size_t>(k) * elem};
}
// The inline-norm bulk build's target (gemv.h, GemvTuning::norm_unit_kb): every row group reads
// x, the residual and the norm weight (3 x the plain build's x reads, from L1 or the L2), so its
// blocks hold more W (fewer blocks read them): 64 KB unless tuned (32, 64 or 128 KB; the largest
// a block may then ask for is kGemvBulkNormMaxBytes).
constexpr int64_t kGemvBulkNormTargetBytes = 64 * 1024;
constexpr int64_t kGemvBulkNormMaxBytes = 128 * 1024;
inline int64_t bulk_norm_target(const GemvTuning& tune) {
  return tune.norm_unit_kb > 0 ? int64_t{tune.norm_unit_kb} * 1024 : kGemvBulkNormTargetBytes;
}
inline bool bulk_serves(int64_t k, int rows, size_t elem) {
  return int64_t{rows} * k * static_cast<int64_t>(elem) <= kGemvBulkMaxBytes;
}

}  // namespace gqa::cuda::gemv_detail
