// The decode GEMVs' ring build (GemvTuning::ring, GQA_GEMV_RING=1; gemv.h): the bulk build's
// copies (one cp.async.bulk per W row into shared memory) through a ring of shared-memory stages
// in a grid of resident blocks, instead of one block per set of row groups. Why: the bulk build
// copies a block's 32 KB once and exits, so an SM's bytes in flight fall at every block's start
// and end (its GEMVs, each timed alone, streamed at 2.8-3.0 TB/s on an H200 in run 7), where the
// read ceiling measured in the same run streams 1 GiB through cp.async.bulk at 4.52 TB/s with
// stages kept full. Here a block takes units (the bulk build's set of row groups, ~32 KB of W)
// blockIdx.x, blockIdx.x + gridDim.x, ...: thread 0 has `stages` of them in flight, the block's
// warps compute one (the bulk build's arithmetic and epilogue), then thread 0 refills its stage.
// The first stages are issued before pdl_wait (W is never written during a step), so under PDL
// they stream while the previous kernel finishes. With the add + RMSNorm prologue (kNorm) every
// block normalises x once (norm_prologue) for all its units: a few hundred blocks read x, the
// residual and the weight from the L2, where the per-thread build's norm prologue runs in every
// one of its blocks.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include <cuda/ptx>

#include "kernels/cuda/gemv_bulk.cuh"
#include "kernels/cuda/gemv_ring_plan.h"

namespace gqa::cuda::gemv_detail {

// x [N, k] (or, kNorm, norm's rows), W rows from map.row; `units` sets of kWarps / group_warps row
// groups; `stages` (<= kGemvRingStagesMax: gemv_ring_plan) slots of one unit each in dynamic
// shared memory, then (kNorm) N rows of k.
template <typename T, int N, class M, bool kNorm>
__global__ void __launch_bounds__(kThreads)
    gemv_ring_kernel(const T* __restrict__ x, const T* __restrict__ w, const M map, int k, int group_warps, int units,
                     int stages, const NormIn<T> norm) {
  constexpr int R = Tile<N>::rows;
  extern __shared__ __align__(128) uint4 ring[];  // [stages][groups][R][kc], then kNorm: [N][kc]
  __shared__ __align__(8) uint64_t full[kGemvRingStagesMax];
  __shared__ float partial[2][kWarps][N * R];  // by unit parity: no barrier between a unit's stores and the next's sums
  namespace ptx = ::cuda::ptx;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int groups = kWarps / group_warps, group = warp / group_warps;
  const int t = (warp % group_warps) * 32 + lane, stride = group_warps * 32;
  const int kc = k / 8;
  const size_t slot_chunks = static_cast<size_t>(groups) * R * kc;
  const int first = blockIdx.x, step = gridDim.x;
  const int mine = first < units ? (units - 1 - first) / step + 1 : 0;  // units this block takes
  // Thread 0: the copies of this block's j-th unit into stage j % stages.
  const auto issue = [&](int j) {
    copy_unit_rows<T, R>(w, map, first + static_cast<long long>(j) * step, groups, k,
                         ring + static_cast<size_t>(j % stages) * slot_chunks, &full[j % stages]);
  };
  if (threadIdx.x == 0) {
    for (int s = 0; s < stages; ++s) ptx::mbarrier_init(&full[s], 1);
    ptx::fence_mbarrier_init(ptx::sem_release, ptx::scope_cluster);
    for (int j = 0; j < stages && j < mine; ++j) issue(j);
  }
  pdl_wait();
  const uint4* xv = reinterpret_cast<const uint4*>(x);
  if constexpr (kNorm) {
    uint4* xs = ring + static_cast<size_t>(stages) * slot_chunks;
    norm_prologue<T, N>(norm, kc, xs);
    xv = xs;
  }
  __syncthreads();  // the barriers initialised before anyone waits on them
  for (int j = 0; j < mine; ++j) {
    mbarrier_wait(&full[j % stages], static_cast<uint32_t>((j / stages) & 1));
    const uint4* ws = ring + static_cast<size_t>(j % stages) * slot_chunks + static_cast<size_t>(group) * R * kc;
    float acc[N][R];
    dot_rows_in_smem<T, N, R>(ws, xv, kc, t, stride, acc);
    reduce_to_partial<N, R>(acc, partial[j & 1]);
    __syncthreads();  // every warp is done with stage j % stages (and has put its sums in partial[j & 1])
    if (threadIdx.x == 0 && j + stages < mine) {
      ptx::fence_proxy_async(ptx::space_shared);  // those generic reads before the copy's write
      issue(j + stages);  // before this unit's stores: the refill's copies start at once
    }
    // partial[j & 1] is written again by unit j + 2, after unit j + 1's barrier: every thread has
    // finished these stores by then.
    store_from_partial<N, R>(partial[j & 1], map, group_warps, first + static_cast<long long>(j) * step);
  }
}

}  // namespace gqa::cuda::gemv_detail
