// The decode GEMVs' bulk-copy build (gemv.h: GemvTuning::bulk, GQA_GEMV_BULK; the default where
// it serves): W rows copied into shared memory by cp.async.bulk before the wait, the same row
// groups, arithmetic and epilogues as gemv_kernel.cuh's per-thread build (not the fused norm:
// gemv.h); the ring build (gemv_ring.cuh) shares its copies and arithmetic.
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
template <typename T, int N, class M>
__global__ void __launch_bounds__(kThreads)
    gemv_bulk_kernel(const T* __restrict__ x, const T* __restrict__ w, const M map, int k, int group_warps) {
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
  mbarrier_wait</*kRecord=*/false>(&full, 0);  // (a bare trap: mbarrier_wait.cuh)
  const uint4* xv = reinterpret_cast<const uint4*>(x);
  const uint4* ws = w_s + static_cast<size_t>(group) * R * kc;
  float acc[N][R];
  dot_rows_in_smem<T, N, R>(ws, xv, kc, t, stride, acc);
  reduce_and_store<N, R>(acc, partial, map, group_warps, blockIdx.x);
}

// The bulk build's warps per row group: as many row groups per block as fit kGemvBulkTargetBytes of
// shared memory (at least one: a block's copies are one batch; smaller blocks leave more of them
// resident per SM), and whether the build serves k at all (one group's rows within
// kGemvBulkMaxBytes).
constexpr int64_t kGemvBulkTargetBytes = 32 * 1024;
inline int bulk_group_warps(int64_t k, int rows, size_t elem) {
  const auto bytes = [&](int g) { return int64_t{kWarps / g} * rows * k * static_cast<int64_t>(elem); };
  int g = kWarps;
  while (g > 1 && bytes(g / 2) <= kGemvBulkTargetBytes) g /= 2;
  return g;
}
// A bulk block's unit for `groups` row groups of R rows of k elements (bulk_group_warps): warps
// per row group, blocks, and the W bytes (dynamic shared memory) of one block.
struct BulkUnit {
  int group_warps;
  int64_t units;
  size_t bytes;
};
inline BulkUnit bulk_unit(int64_t k, int rows, size_t elem, int64_t groups) {
  const int g = bulk_group_warps(k, rows, elem);
  const int64_t per = kWarps / g;
  return {g, (groups + per - 1) / per, static_cast<size_t>(per) * rows * static_cast<size_t>(k) * elem};
}
inline bool bulk_serves(int64_t k, int rows, size_t elem) {
  return int64_t{rows} * k * static_cast<int64_t>(elem) <= kGemvBulkMaxBytes;
}

}  // namespace gqa::cuda::gemv_detail
