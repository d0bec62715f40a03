// The decode GEMV's kernel template (gemv.cu explains the mapping), shared by its three uses
// (the bulk-copy build, which shares its parts, is in gemv_bulk.cuh):
// y = x W^T (gemv.cu, PlainRows), the MLP's gate/up GEMV with SwiGLU in the epilogue (gemv.cu,
// SwiGluRows) and the QKV GEMV with RoPE and the KV-cache write in the epilogue (gemv_rope.cu).
// A row map M says which W row each of a row group's R rows is (M::row) and stores the group's
// outputs (M::store, given the f32 dot products of each of its R rows with one x row).
// Included only by those .cu files.
#pragma once

#include <cstdint>

#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/stream_loads.cuh"

namespace gqa::cuda::gemv_detail {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kLoadsPerStep = 8;  // 16-byte W loads a thread has in flight per step (R * U)
constexpr int kMinBlocks = 264;   // two blocks per SM of an H100/H200 (132 SMs)

// The blocks per SM a GEMV build is compiled for (__launch_bounds__'s second argument: a budget of
// 65536 / (256 * it) registers per thread; 0: none, gemv_kernel without it). Without a budget
// ptxas aims at full occupancy and keeps only 4-6 of a step's 8 W loads in flight: it issues 4,
// then reuses their registers for the next (sm_90a SASS of the n = 1-6 builds, CUDA 13.0: 54-114
// registers). With 4 (n <= 2: 64 registers, the 4 blocks per SM the n = 1 builds had, so no grid
// needs more waves than before) or 2 (n = 3-6 and the deep and norm builds: 95-128 registers, the
// 2 blocks per SM they had) every build issues all 8 before its first FMA (the bf16 n = 2 plain
// build 7; the deep builds all 16), none spills. n = 7, 8 keep no budget: at 128 registers they
// would spill; they stay at 113-150 registers with 4-5 loads in flight. (launch/sass_check.py
// checks this in a build's SASS.)
constexpr int min_resident_blocks(int n, bool deep, bool norm) { return n <= 2 && !deep && !norm ? 4 : n <= 6 ? 2 : 0; }

// W rows per row group (R) and chunks per thread per step (U), for n rows of x. More W rows per
// group at larger n: each 16-byte x vector read from L1 then feeds R rows' FMAs, so L1 serves
// n * 16 / R bytes of x per 16 bytes of W streamed from HBM (at most 32 B: well within L1 rates).
// kDeep (GemvTuning::deep, n <= 2): twice the loads in flight per thread (a step of a k = 8192 row
// is then one round trip for 4 warps instead of two).
template <int N, bool kDeep = false>
struct Tile {
  static constexpr int rows = N <= 2 ? 2 : 4;
  static constexpr int loads = kDeep ? 2 * kLoadsPerStep : kLoadsPerStep;
  static constexpr int unroll = loads / rows;
};

// One step of a thread: chunks c0 + u * stride (u < U) of its group's R rows of W, times the same
// chunks of the N rows of x, into acc. Full: every chunk is below kc (no per-chunk tests, so the
// compiler can batch the x loads); otherwise only the chunks below kc (c0 < kc is given). In two
// halves: all of the step's U * R W loads (in flight together), then the FMAs.
template <typename T, int N, bool kDeep>
using StepW = uint4[Tile<N, kDeep>::unroll][Tile<N>::rows];

template <typename T, int N, bool Full, bool kDeep>
__device__ __forceinline__ void load_w_step(const uint4* const (&wrow)[Tile<N>::rows], int kc, int c0, int stride,
                                            StepW<T, N, kDeep>& wv) {
  constexpr int R = Tile<N>::rows, U = Tile<N, kDeep>::unroll;
#pragma unroll
  for (int u = 0; u < U; ++u) {
    const int c = c0 + u * stride;
#pragma unroll
    for (int r = 0; r < R; ++r) wv[u][r] = Full || c < kc ? load_stream(wrow[r] + c) : make_uint4(0u, 0u, 0u, 0u);
  }
}

// acc[i][r] += x row i's chunk c . W chunk wv[r], for R rows of W (16 bytes each) and N rows of x.
template <typename T, int N, int R>
__device__ __forceinline__ void fma_chunk(const uint4 (&wv)[R], const uint4* xv, int kc, int c, float (&acc)[N][R]) {
  float wf[R][8];
#pragma unroll
  for (int r = 0; r < R; ++r) unpack16<T>(wv[r], wf[r]);
#pragma unroll
  for (int i = 0; i < N; ++i) {
    float xf[8];
    unpack16<T>(xv[static_cast<size_t>(i) * kc + c], xf);
#pragma unroll
    for (int r = 0; r < R; ++r) {
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[i][r] = fmaf(xf[e], wf[r][e], acc[i][r]);
    }
  }
}

template <typename T, int N, bool Full, bool kDeep>
__device__ __forceinline__ void fma_w_step(const StepW<T, N, kDeep>& wv, const uint4* xv, int kc, int c0, int stride,
                                           float (&acc)[N][Tile<N>::rows]) {
  constexpr int U = Tile<N, kDeep>::unroll;
#pragma unroll
  for (int u = 0; u < U; ++u) {
    const int c = c0 + u * stride;
    if (!Full && c >= kc) break;  // c grows with u
    fma_chunk<T, N>(wv[u], xv, kc, c, acc);
  }
}

// The end of the GEMV kernels, in two halves around a block barrier: each warp sums its N x R dot
// products (xor shuffles) and lane 0 puts them in `partial` (reduce_to_partial); after the barrier
// thread (group g, x row i, output o < kOut) adds its group's group_warps partials and calls
// map.store for row group unit * groups + g (store_from_partial; unit: the block's set of row
// groups, blockIdx.x but in the ring build; tid: the thread's number in that order, threadIdx.x
// unless the caller keeps its first threads for other work). reduce_and_store: both, with the
// barrier.
template <int N, int R>
__device__ __forceinline__ void reduce_to_partial(const float (&acc)[N][R], float (&partial)[kWarps][N * R]) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
#pragma unroll
  for (int i = 0; i < N; ++i) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      float v = acc[i][r];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      if (lane == 0) partial[warp][i * R + r] = v;
    }
  }
}
template <int N, int R, class M>
__device__ __forceinline__ void store_from_partial(const float (&partial)[kWarps][N * R], const M& map, int group_warps,
                                                   long long unit, int tid = static_cast<int>(threadIdx.x)) {
  constexpr int kOut = M::template outputs<R>();  // outputs a row group stores per x row
  static_assert(kOut >= 1 && kOut <= R, "a row group stores at most one output per row");
  const int groups = kWarps / group_warps;
  if (tid < groups * N * kOut) {  // groups * N * kOut <= 8 * 8 * 4 = kThreads
    const int g = tid / (N * kOut), o = tid % (N * kOut), i = o / kOut;
    const auto sum = [&](int r) {
      float s = 0.0f;
      for (int q = 0; q < group_warps; ++q) s += partial[g * group_warps + q][i * R + r];
      return s;
    };
    map.template store<R>(unit * groups + g, i, o % kOut, sum);
  }
}
template <int N, int R, class M>
__device__ __forceinline__ void reduce_and_store(const float (&acc)[N][R], float (&partial)[kWarps][N * R],
                                                 const M& map, int group_warps, long long unit) {
  reduce_to_partial<N, R>(acc, partial);
  __syncthreads();
  store_from_partial<N, R>(partial, map, group_warps, unit);
}

template <typename T, int N, bool Full, bool kDeep>
__device__ __forceinline__ void gemv_step(const uint4* const (&wrow)[Tile<N>::rows], const uint4* xv, int kc, int c0,
                                          int stride, float (&acc)[N][Tile<N>::rows]) {
  StepW<T, N, kDeep> wv;
  load_w_step<T, N, Full, kDeep>(wrow, kc, c0, stride, wv);
  fma_w_step<T, N, Full, kDeep>(wv, xv, kc, c0, stride, acc);
}

// The add + RMSNorm a GEMV may apply to its input (gemv.h, gemv_norm_supported): the GEMV's x rows
// are then rmsnorm(x + residual) * weight, computed by every block into shared memory (the
// prologue, norm_prologue).
template <typename T>
struct NormIn {
  const T* x = nullptr;         // [N, k] the residual stream before the add
  const T* residual = nullptr;  // [N, k], or null: a plain RMSNorm of x
  const T* weight = nullptr;    // [k]
  T* x_out = nullptr;           // [N, k] x + residual, written by block 0 (null without a residual)
  float eps = 0.0f;
};

// norm (checked by check_gemv_norm_call) as the kernel's argument.
template <typename T>
NormIn<T> norm_in(const AddRmsNormArgs& norm) {
  return {norm.x.data_as<const T>(), norm.residual.defined() ? norm.residual.data_as<const T>() : nullptr,
          norm.weight.data_as<const T>(), norm.x_out.defined() ? norm.x_out.data_as<T>() : nullptr, norm.eps};
}

// One 16-byte chunk as 8 elements of T and back, register to register (a memcpy straight from
// global memory into a pack compiled to byte loads, CUDA 13.0: load the uint4 first).
template <typename T>
__device__ __forceinline__ Pack<T, 8> as_pack(const uint4& raw) {
  Pack<T, 8> v;
  __builtin_memcpy(&v, &raw, 16);
  return v;
}
template <typename T>
__device__ __forceinline__ uint4 as_raw(const Pack<T, 8>& v) {
  uint4 raw;
  __builtin_memcpy(&raw, &v, 16);
  return raw;
}

// Every thread of the block, after pdl_wait: xs (N * kc 16-byte chunks of shared memory) gets the
// N normalised rows, with rmsnorm.cu's rounding (x + residual rounded to T, its squares summed in
// f32, rsqrtf(sum / k + eps), each product rounded to T); only the order of the f32 sum differs.
// Thread tid owns chunks tid, tid + kThreads, ... of each row in both passes; a batch of them is
// loaded before any is used (x, residual and weight come from the L2: every block reads them).
template <typename T, int N>
__device__ __forceinline__ void norm_prologue(const NormIn<T>& p, int kc, uint4* __restrict__ xs) {
  using P = Pack<T, 8>;  // one 16-byte chunk, as the registers the raw uint4 loads landed in
  constexpr int kBatch = 4;
  __shared__ float warp_sq[N][kWarps];
  __shared__ float inv_rms[N];
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const uint4* xg = reinterpret_cast<const uint4*>(p.x);
  const uint4* rg = reinterpret_cast<const uint4*>(p.residual);
  uint4* xo = blockIdx.x == 0 ? reinterpret_cast<uint4*>(p.x_out) : nullptr;
#pragma unroll
  for (int i = 0; i < N; ++i) {
    float sq = 0.0f;
    for (int c0 = tid; c0 < kc; c0 += kThreads * kBatch) {
      uint4 xv[kBatch], rv[kBatch];
#pragma unroll
      for (int u = 0; u < kBatch; ++u) {
        const int c = c0 + u * kThreads;
        if (c < kc) {
          xv[u] = xg[static_cast<size_t>(i) * kc + c];
          if (rg != nullptr) rv[u] = rg[static_cast<size_t>(i) * kc + c];
        }
      }
#pragma unroll
      for (int u = 0; u < kBatch; ++u) {
        const int c = c0 + u * kThreads;
        if (c >= kc) break;
        const P v = rg != nullptr ? add_rounded(as_pack<T>(xv[u]), as_pack<T>(rv[u])) : as_pack<T>(xv[u]);
        sq += sum_squares(v);
        const uint4 sum = as_raw<T>(v);
        xs[static_cast<size_t>(i) * kc + c] = sum;
        if (xo != nullptr) xo[static_cast<size_t>(i) * kc + c] = sum;
      }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) sq += __shfl_xor_sync(0xffffffffu, sq, o);
    if (lane == 0) warp_sq[i][warp] = sq;
  }
  __syncthreads();
  if (tid < N) {
    float total = 0.0f;
#pragma unroll
    for (int q = 0; q < kWarps; ++q) total += warp_sq[tid][q];
    inv_rms[tid] = rsqrtf(total / (8 * kc) + p.eps);
  }
  __syncthreads();
  const uint4* wg = reinterpret_cast<const uint4*>(p.weight);
  for (int c0 = tid; c0 < kc; c0 += kThreads * kBatch) {
    uint4 wv[kBatch];
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      const int c = c0 + u * kThreads;
      if (c < kc) wv[u] = wg[c];
    }
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      const int c = c0 + u * kThreads;
      if (c >= kc) break;
      const P wt = as_pack<T>(wv[u]);
#pragma unroll
      for (int i = 0; i < N; ++i) {
        uint4& row = xs[static_cast<size_t>(i) * kc + c];
        row = as_raw<T>(rms_scaled(as_pack<T>(row), inv_rms[i], wt));
      }
    }
  }
  __syncthreads();  // the GEMV's threads read other threads' chunks
}

// x [N, k] 16-byte aligned, k % 8 == 0; W rows from map.row; group_warps = G. Row group number
// `grp` (blockIdx.x * groups + the block's group) covers its R rows; thread (group, token i,
// output o < M::kOut) then calls map.store(grp, i, o, sum) with sum(r) the dot product of row r.
// kNorm: x is not read; the rows are norm's (norm_prologue, in N * k * sizeof(T) bytes of dynamic
// shared memory).
template <typename T, int N, class M, bool kDeep, bool kNorm>
__device__ __forceinline__ void gemv_body(const T* __restrict__ x, const T* __restrict__ w, const M& map, int k,
                                          int group_warps, const NormIn<T>& norm) {
  constexpr int R = Tile<N>::rows, U = Tile<N, kDeep>::unroll;
  __shared__ float partial[kWarps][N * R];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int groups = kWarps / group_warps;                 // row groups per block
  const int group = warp / group_warps;                    // this warp's row group
  const int t = (warp % group_warps) * 32 + lane;          // this thread's place in its group
  const int stride = group_warps * 32;                     // chunks one group pass covers
  const int kc = k / 8;                                    // 16-byte chunks per row
  const long long grp = static_cast<long long>(blockIdx.x) * groups + group;

  const uint4* wrow[R];
#pragma unroll
  for (int r = 0; r < R; ++r) wrow[r] = reinterpret_cast<const uint4*>(w + map.template row<R>(grp, r) * k);
  float acc[N][R];
#pragma unroll
  for (int i = 0; i < N; ++i) {
#pragma unroll
    for (int r = 0; r < R; ++r) acc[i][r] = 0.0f;
  }
  int c0 = t;
  const uint4* xv = reinterpret_cast<const uint4*>(x);  // row i, chunk c: xv[i * kc + c]
  // Before waiting for the kernel this one may overlap (PDL), start the first step's W lines on
  // their way into the L2: with the norm prologue they then land while it runs. Prefetches, not
  // loads: ptxas sank the norm build's first-step loads, written before pdl_wait, below the
  // griddepcontrol.wait (sm_90 SASS, CUDA 13.0: every LDG after ACQBULK), while the prefetches
  // stay ahead of it (launch/sass_check.py checks this). The L2 is where every SM's writes land,
  // so a prefetch can never leave a stale copy of data a predecessor is still writing.
#pragma unroll
  for (int u = 0; u < U; ++u) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      if (t + u * stride < kc) prefetch_l2(wrow[r] + t + u * stride);
    }
  }
  pdl_wait();
  if constexpr (kNorm) {
    extern __shared__ uint4 normed_x[];
    norm_prologue<T, N>(norm, kc, normed_x);
    xv = normed_x;
  }

  for (; c0 + (U - 1) * stride < kc; c0 += stride * U) gemv_step<T, N, true, kDeep>(wrow, xv, kc, c0, stride, acc);
  if (c0 < kc) gemv_step<T, N, false, kDeep>(wrow, xv, kc, c0, stride, acc);  // the last, partial step
  reduce_and_store<N, R>(acc, partial, map, group_warps, blockIdx.x);
}

// The kernel without a register budget, and with one (kMinBlocks >= 1 resident blocks per SM): two
// templates, not a bound of 0, which not every compiler need take for "none".
template <typename T, int N, class M, bool kDeep, bool kNorm>
__global__ void __launch_bounds__(kThreads)
    gemv_kernel(const T* __restrict__ x, const T* __restrict__ w, const M map, int k, int group_warps,
                const NormIn<T> norm) {
  gemv_body<T, N, M, kDeep, kNorm>(x, w, map, k, group_warps, norm);
}
template <typename T, int N, class M, bool kDeep, bool kNorm, int kMinBlocks>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    gemv_kernel_budget(const T* __restrict__ x, const T* __restrict__ w, const M map, int k, int group_warps,
                       const NormIn<T> norm) {
  static_assert(kMinBlocks >= 1, "a budget of at least one block");
  gemv_body<T, N, M, kDeep, kNorm>(x, w, map, k, group_warps, norm);
}
// The build a launch uses: with its register budget (min_resident_blocks) where it has one and
// kBudget (GemvTuning::no_budget clears it), else without.
template <typename T, int N, class M, bool kDeep, bool kNorm, bool kBudget = true>
constexpr auto gemv_kernel_for() {
  constexpr int kMin = kBudget ? min_resident_blocks(N, kDeep, kNorm) : 0;
  if constexpr (kMin > 0) {
    return gemv_kernel_budget<T, N, M, kDeep, kNorm, kMin>;
  } else {
    return gemv_kernel<T, N, M, kDeep, kNorm>;
  }
}

// The norm prologue's warps per row group: every block reads 3 x N rows of k from the L2 before its
// first FMA, so as many row groups per block as still give kMinBlocks blocks (the fewest warps per
// group: 1 for the 70B shard's gate/up GEMV, 448 blocks reading 21 MB instead of 1792 reading 86 MB;
// 4 for its QKV, as the plan).
inline int norm_group_warps(int64_t m, int rows) {
  const int64_t groups = (m + rows - 1) / rows;
  int g = 1;
  while (g < kWarps && (groups + kWarps / g - 1) / (kWarps / g) < kMinBlocks) g *= 2;
  return g;
}

}  // namespace gqa::cuda::gemv_detail
