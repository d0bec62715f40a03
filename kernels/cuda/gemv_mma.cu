// The decode-step GEMM y[n, m] = x[n, k] W[m, k]^T for 9 <= n <= 16 (gemv_mma.h) on tensor cores.
//
// The product. mma.sync.m16n8k16.row.col with A = 16 rows of W (an m-tile: rows 16i .. 16i+15)
// and B = x^T (k16 x n8), two n-tiles: tokens 0-7 and 8-15 (tokens >= n are zeros). With lane =
// 4 * gid + tig, the fragments (PTX ISA "Matrix fragments for mma.m16n8k16", as in
// attention_mma.cuh) are
//   A: a0 = (row gid, k 2tig, 2tig+1)  a1 = (row gid+8, same k)  a2 = (row gid, k 2tig+8, +9)  a3 = (row gid+8, same)
//   B: b0 = (k 2tig, 2tig+1; n gid)    b1 = (k 2tig+8, +9; n gid)
//   C: c0, c1 = (row gid; n 2tig, 2tig+1)  c2, c3 = (row gid+8; same n)
// so C of n-tile t holds y[8t + 2tig + {0,1}][W row gid (+8)].
//
// The k-permutation. A dot product may be summed in any order, as long as W and x are permuted
// alike. k is cut into chunks of 32 elements; for the chunk at kb, lane (gid, tig) loads, with one
// 16-byte load each, the 8 elements [kb + 8tig, kb + 8tig + 8) of W rows gid and gid+8 of the
// m-tile and of x tokens gid and gid+8. Word i of such a uint4 holds elements 2i (low half) and
// 2i+1. The chunk is two mma k-steps s = 0, 1, whose logical k (0..15) maps to physical k as
//   2tig + {0,1}     -> kb + 8tig + 4s + {0,1}   (word 2s)
//   2tig + 8 + {0,1} -> kb + 8tig + 4s + {2,3}   (word 2s+1)
// a bijection of the 32 elements of the chunk (over tig, s, the two halves and the pair), and one
// that depends on the logical k alone (tig = (k mod 8) / 2), so A (lane row gid) and B (lane
// token gid) of any logical k hold W and x at the same physical k. Hence, for step s:
//   a0 = W[gid].word(2s)  a1 = W[gid+8].word(2s)  a2 = W[gid].word(2s+1)  a3 = W[gid+8].word(2s+1)
//   n-tile t: b0 = x[8t+gid].word(2s)  b1 = x[8t+gid].word(2s+1)
// with no repacking. A warp instruction reads 64 contiguous bytes of each of 16 W rows.
//
// Mapping. A warp owns MT m-tiles (MT = 1 or 2; 2 where x outgrows L1, n * k * 2 > 128 KiB, and
// there are m-tiles enough: each x vector then feeds twice the W, halving x's L1/L2 traffic,
// which at MT = 1 and n = 16 equals W's HBM traffic) times all tokens over part of k. A block is
// 8 warps: row groups of G warps (G = 1, 2, 4 or 8, chosen on the host from k and m), each owning
// MT m-tiles; warp q of a group takes steps q, q + G, q + 2G, ... of U = 6 / MT consecutive
// chunks: per step it first issues all 2 * MT * U = 12 W loads (ld.global.nc.L1::no_allocate: W
// is read once and must not evict x), then per chunk loads the two x vectors (plain loads: x is
// reused by every warp) and issues 2 k-steps x 2 n-tiles x MT mmas (the first step's W lines are
// prefetched into the L2 before pdl_wait, overlapping the predecessor kernel under PDL). Steps
// whose chunks all lie below k / 32 run without tests; the one step that reaches past it (at
// most one per warp) zero-fills the lanes whose 8 elements start at or past k (k % 8 == 0: 8 elements are all in or all out), W and x alike, and stops
// (warp-uniformly) at the first chunk wholly past k. A warp may have no step at all: zeros. Each
// warp then puts its C fragments in shared memory and, after one __syncthreads, thread (tile,
// token, row) adds the G warps' partials in a fixed order and writes one rounded element of y.
// W rows past m (the last m-tile) read row m - 1 instead (always mapped) and write nothing;
// tokens past n load nothing and write nothing. mma.sync runs with every lane of the warp (all
// branches around it are warp-uniform).
#include <atomic>
#include <cstdint>

#include "kernels/cuda/attention_mma.cuh"
#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/gemv_mma.h"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/stream_loads.cuh"

namespace gqa::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
// MT * U: 32-element chunks of W rows a warp has in flight per step (2 * MT * U = 12 16-byte loads
// per lane). 8 (16 loads) needs 128 registers plus a 4-byte spill under the 2-blocks-per-SM
// bound (ptxas presumably keeps the step's x loads in flight too); 6 fits in 128 (MT = 1) / 120
// (MT = 2) registers without spills (CUDA 13, sm_90). Untuned: no GPU measurement yet.
constexpr int kChunksPerStep = 6;
constexpr int kSms = 132;          // an H100/H200
constexpr int kMinBlocks = 2 * kSms;
constexpr int64_t kXL1Bytes = int64_t{128} << 10;  // x beyond this: MT = 2 where the grid allows

// Word i (elements 2i, 2i+1) of 16 loaded bytes; i is a constant after unrolling.
__device__ __forceinline__ uint32_t word(const uint4& v, int i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

// One step of a warp: chunks c .. c+U-1 (32 elements each) of its MT m-tiles' W rows
// (wrow[mt][h]: row gid + 8h of m-tile mt) times the same chunks of tokens gid (x0) and gid + 8
// (x1, when has1), into acc[mt][n-tile]. Row pointers count 16-byte vectors; kv = k / 8 vectors
// per row; this lane's vector of chunk c is 4c + tig. Full: every chunk lies wholly below k.
template <typename T, int MT, bool Full>
__device__ __forceinline__ void mma_step(const uint4* const (&wrow)[MT][2], const uint4* x0, const uint4* x1,
                                         bool has1, int kv, int c, int tig, float (&acc)[MT][2][4]) {
  constexpr int U = kChunksPerStep / MT;
  const uint4 zero = make_uint4(0u, 0u, 0u, 0u);
  uint4 wv[U][MT][2];
#pragma unroll
  for (int u = 0; u < U; ++u) {  // all of the step's W loads first: 2 * MT * U in flight
    const int v = 4 * (c + u) + tig;
    const bool in = Full || v < kv;
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
      for (int h = 0; h < 2; ++h) wv[u][mt][h] = in ? load_stream(wrow[mt][h] + v) : zero;
    }
  }
#pragma unroll
  for (int u = 0; u < U; ++u) {
    if (!Full && 4 * (c + u) >= kv) break;  // the chunk lies wholly past k (warp-uniform; grows with u)
    const int v = 4 * (c + u) + tig;
    const bool in = Full || v < kv;
    const uint4 xa = in ? x0[v] : zero;
    const uint4 xb = in && has1 ? x1[v] : zero;
#pragma unroll
    for (int s = 0; s < 2; ++s) {
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        const uint32_t a0 = word(wv[u][mt][0], 2 * s), a1 = word(wv[u][mt][1], 2 * s);
        const uint32_t a2 = word(wv[u][mt][0], 2 * s + 1), a3 = word(wv[u][mt][1], 2 * s + 1);
        const uint32_t a[4] = {a0, a1, a2, a3};
        attn::mma_16816<T>(acc[mt][0], a, word(xa, 2 * s), word(xa, 2 * s + 1));
        attn::mma_16816<T>(acc[mt][1], a, word(xb, 2 * s), word(xb, 2 * s + 1));
      }
    }
  }
}

// x [n, k], w [m, k], y [n, m]; 9 <= n <= 16; x and w 16-byte aligned, k % 8 == 0; group_warps = G.
template <typename T, int MT>
__global__ void __launch_bounds__(kThreads, 2)
    gemv_mma_kernel(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ y, int n, int m, int k,
                    int group_warps) {
  constexpr int U = kChunksPerStep / MT;
  __shared__ float partial[kWarps][MT][2][4][32];  // [warp][m-tile][n-tile][C register][lane]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gid = lane / 4, tig = lane % 4;
  const int groups = kWarps / group_warps;  // row groups per block
  const int group = warp / group_warps;     // this warp's row group
  const int q = warp % group_warps;         // this warp's place in its group
  const int kv = k / 8;                     // 16-byte vectors per row
  const int kfull = k / 32;                 // whole 32-element chunks per row
  const long long tile0 = (static_cast<long long>(blockIdx.x) * groups + group) * MT;  // first m-tile

  const uint4* wrow[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      long long row = (tile0 + mt) * 16 + gid + 8 * h;
      if (row >= m) row = m - 1;  // past m: a mapped row, result unused
      wrow[mt][h] = reinterpret_cast<const uint4*>(w + row * k);
    }
  }
  // Before waiting for the kernel this one may overlap (PDL), start the first step's W lines on
  // their way into the L2 (only prefetches may precede pdl_wait: see pdl.cuh).
#pragma unroll
  for (int u = 0; u < U; ++u) {
    const int v = 4 * (q * U + u) + tig;
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        if (v < kv) prefetch_l2(wrow[mt][h] + v);
      }
    }
  }
  pdl_wait();
  const bool has1 = gid + 8 < n;  // token gid < 8 < n always
  const uint4* x0 = reinterpret_cast<const uint4*>(x + static_cast<long long>(gid) * k);
  const uint4* x1 = reinterpret_cast<const uint4*>(x + static_cast<long long>(has1 ? gid + 8 : n - 1) * k);

  float acc[MT][2][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int t = 0; t < 2; ++t) acc[mt][t][0] = acc[mt][t][1] = acc[mt][t][2] = acc[mt][t][3] = 0.0f;
  }

  const int stride = group_warps * U;  // chunks one group pass covers
  int c = q * U;
  for (; c + U <= kfull; c += stride) mma_step<T, MT, true>(wrow, x0, x1, has1, kv, c, tig, acc);
  if (4 * c < kv) mma_step<T, MT, false>(wrow, x0, x1, has1, kv, c, tig, acc);  // the last, partial step

#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int t = 0; t < 2; ++t) {
#pragma unroll
      for (int e = 0; e < 4; ++e) partial[warp][mt][t][e][lane] = acc[mt][t][e];
    }
  }
  __syncthreads();
  // Output o of the block: tile (g * MT + mt) = o / 256, token = (o / 16) % 16, row r = o % 16 of
  // the m-tile (consecutive threads: consecutive rows of one token). Its C element: n-tile
  // token / 8, lane 4 * (r % 8) + (token % 8) / 2, register 2 * (r / 8) + token % 2.
  const int outputs = groups * MT * 256;
  for (int o = threadIdx.x; o < outputs; o += kThreads) {
    const int r = o % 16, token = (o / 16) % 16, tile = o / 256, g = tile / MT, mt = tile % MT;
    const long long row = (static_cast<long long>(blockIdx.x) * groups * MT + tile) * 16 + r;
    if (token >= n || row >= m) continue;
    const int t = token / 8, src = 4 * (r % 8) + (token % 8) / 2, e = 2 * (r / 8) + token % 2;
    float s = 0.0f;
    for (int qq = 0; qq < group_warps; ++qq) s += partial[g * group_warps + qq][mt][t][e][src];
    y[static_cast<long long>(token) * m + row] = store_f32<T>(s);
  }
}

// MT: two m-tiles per warp where x is larger than L1 keeps comfortably (each x vector then feeds
// 32 W rows, halving x's L1/L2 traffic) and there are m-tiles for at least one block per SM at
// G = 8; else one (more warps: QKV's 80 m-tiles, small k).
int tiles_per_warp_for(int64_t n, int64_t k, int64_t tiles) {
  return n * k * 2 > kXL1Bytes && (tiles + 1) / 2 >= kSms ? 2 : 1;
}

// G (as gemv.cu's group_warps_for): split each m-tile's chunks over more warps while every warp
// keeps at least two full steps; then, while the grid is small (few m-tiles), split further down
// to one full step per warp.
int group_warps_for(int64_t kc, int64_t tiles, int mt) {
  const int64_t per_step = kChunksPerStep / mt;  // chunks one warp covers per step (U)
  auto blocks = [&](int g) {
    const int64_t per_block = int64_t{kWarps / g} * mt;
    return (tiles + per_block - 1) / per_block;
  };
  int g = 1;
  while (g < kWarps && kc >= 2 * (2 * g) * per_step) g *= 2;
  while (g < kWarps && blocks(g) < kMinBlocks && kc >= (2 * g) * per_step) g *= 2;
  return g;
}

template <typename T, int MT>
void launch_mt(const Tensor& x, const Tensor& w, const Tensor& y, int n, int m, int k, cudaStream_t stream) {
  const int64_t tiles = (int64_t{m} + 15) / 16, kc = (int64_t{k} + 31) / 32;
  const int g = group_warps_for(kc, tiles, MT);
  const int64_t tiles_per_block = int64_t{kWarps / g} * MT;
  const unsigned int blocks = static_cast<unsigned int>((tiles + tiles_per_block - 1) / tiles_per_block);
  launch_pdl("gemv_mma_kernel", gemv_mma_kernel<T, MT>, dim3(blocks), dim3(kThreads), 0, stream,
             x.data_as<const T>(), w.data_as<const T>(), y.data_as<T>(), n, m, k, g);
}

template <typename T>
void launch(const Tensor& x, const Tensor& w, const Tensor& y, cudaStream_t stream) {
  const int n = static_cast<int>(x.dim(0)), m = static_cast<int>(w.dim(0)), k = static_cast<int>(x.dim(1));
  if (tiles_per_warp_for(n, k, (int64_t{m} + 15) / 16) == 2) {
    launch_mt<T, 2>(x, w, y, n, m, k, stream);
  } else {
    launch_mt<T, 1>(x, w, y, n, m, k, stream);
  }
}

}  // namespace

GQA_PROCESS_SWITCH(gemv_mma_enabled, set_gemv_mma, "GQA_GEMV_MMA", false)

bool gemv_mma_supported(const Tensor& x, const Tensor& w, const Tensor& y) {
  return decode_gemv_operands_ok(x, w, y, kGemvMmaMinRows, kGemvMmaMaxRows);
}

void gemv_mma(const Tensor& x, const Tensor& w, const Tensor& y, cudaStream_t stream) {
  check_decode_gemv_call("cuda gemv_mma", x, w, y, kGemvMmaMinRows, kGemvMmaMaxRows);
  if (x.dtype() == DType::kBF16) {
    launch<__nv_bfloat16>(x, w, y, stream);
  } else {
    launch<__half>(x, w, y, stream);
  }
}

}  // namespace gqa::cuda
