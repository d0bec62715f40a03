// Flash-attention-2 style causal prefill on tensor cores (see attention_prefill_mma.h).
//
// Rows: packed (token, head-in-group) rows, passes and the output as in attention_prefill_rows.cuh.
// Block: 8 warps x 16 rows = 128 packed rows; 1-D grid of hkv * ceil(n * group / 128) blocks, the KV
// head fastest and the last row tile (longest causal range) first: the heaviest blocks start first.
// Like attention_prefill, a block serves its rows one sequence at a time ("passes"; usually
// one): for the sequence of the first unfinished row it streams keys [0, max position + 1 of
// that sequence's rows) in 64-key tiles, so tiles past every row's position are never loaded
// (causal tile skipping); a warp whose 16 rows all end before a tile skips its math.
//   q      128 x hd, cp.async into shared memory (K stages 0 and 1), then ldmatrix into registers once
//   load   cp.async 16-byte copies of the K and V rows of a tile, each row's page looked up in the
//          block table; three stages: tiles i+1 and i+2 are in flight while tile i is computed,
//          one barrier per tile
//   QK     S (16 x 64 per warp, f32 registers) = q K^T: ldmatrix.x4 of K, 2 mma per load
//   mask   key > positions[token of the row] (or row not in this pass) -> -inf
//   soft   online softmax per row in f32, log2 units (scores scaled by scale * log2(e)):
//          m_new = max(m, tile max); alpha = exp2(m - m_new); p = exp2(s - m_new); l = l*alpha + sum p
//   PV     O (16 x hd per warp, f32 registers) = O * alpha + P V: the S accumulators, rounded to
//          bf16/f16, are the A fragments as they stand; V through ldmatrix.x4.trans
// The row sum l is kept per thread (its quarter of the row's keys) and summed over the 4 lanes
// of the row at the end, where out = O / l is written.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_mma.cuh"
#include "kernels/cuda/attention_prefill_mma.h"
#include "kernels/cuda/attention_prefill_rows.cuh"
#include "kernels/cuda/cuda_check.h"

namespace gqa::cuda {
namespace {

using namespace attn;

constexpr const char* kOp = "cuda attention (prefill, mma)";
// 8 warps: 128 packed rows share each K/V tile. With 64 rows (4 warps, measured on an H200:
// 155-170 TFLOP/s at 8K-128K) a 128K prompt re-read K/V from HBM once per 8 tokens of group 8.
constexpr int kWarps = 8;
constexpr int kThreads = 32 * kWarps;
constexpr int kBlockM = 16 * kWarps;  // packed (token, head) rows per block
constexpr int kBlockN = 64;           // keys per tile
constexpr int kStages = 3;            // K/V tiles in shared memory (two in flight while one is computed)
static_assert(kBlockM == 2 * kBlockN, "the q tile is staged in K stages 0 and 1");
static_assert(kThreads >= kBlockM && kBlockM % 32 == 0, "finish_pass and pick_pass: a thread a row, warp 0 over them");

using MmaParams = PrefillParams;
using MmaRowInfo = PrefillRowInfo<kBlockM>;

// Shared memory: K stages 0..2, then V stages 0..2, each [kBlockN][kRow] of T; q is staged in K
// stages 0 and 1 before the first K tile. Rows are padded by 16 bytes: a row is 144 (hd 64) or
// 272 (hd 128) bytes = 9 or 17 16-byte bank groups, so the 8 row addresses of one ldmatrix
// matrix hit 8 different groups (conflict-free), and every cp.async destination stays 16-byte aligned.
template <typename T, int HD>
struct MmaSmem {
  static constexpr int kVec = 8;  // T per 16-byte copy
  static constexpr int kChunks = HD / kVec;
  static constexpr int kRow = HD + kVec;
  static constexpr int kTile = kBlockN * kRow;
  static constexpr size_t kBytes = size_t(2 * kStages) * kTile * sizeof(T);
  static_assert(sizeof(T) == 2 && HD % 16 == 0, "16-bit types, head_dim a multiple of the mma k (16)");
  static_assert(kBlockN * kChunks % kThreads == 0 && kBlockM * kChunks % kThreads == 0, "whole 16-byte copies per thread");
  static_assert((kRow * sizeof(T)) % 16 == 0 && (kRow * sizeof(T) / 16) % 2 == 1, "odd 16-byte row stride");
};

// q rows [row0, row0 + kBlockM) of KV head g into dst ([kBlockM][kRow]); rows past the end are zeros.
template <typename T, int HD>
__device__ void load_q_tile(const MmaParams& p, int g, int row0, T* dst) {
  using S = MmaSmem<T, HD>;
  const T* q = static_cast<const T*>(p.q);
#pragma unroll
  for (int i = 0; i < kBlockM * S::kChunks / kThreads; ++i) {
    const int c = threadIdx.x + i * kThreads;
    const int r = c / S::kChunks, e = (c % S::kChunks) * S::kVec;
    size_t off = 0;
    const bool in = q_source(p, g, row0 + r, e, HD, off);
    cp_async_16(dst + r * S::kRow + e, q + off, in);
  }
}

// The copies of keys [start, start + kBlockN) of KV head g into one K and one V stage.
template <typename T, int HD>
__device__ __forceinline__ void load_kv_tile(const MmaParams& p, const int32_t* table, int g, int start, int end,
                                             T* k_dst, T* v_dst, int* bad_key) {
  copy_kv_tile<T, HD, RowTileCopy<HD, kBlockN, kThreads, MmaSmem<T, HD>::kRow>>(
      p, table, g, start, end, reinterpret_cast<unsigned char*>(k_dst), reinterpret_cast<unsigned char*>(v_dst), bad_key,
      static_cast<int>(threadIdx.x));
}

template <typename T, int HD>
__global__ void __launch_bounds__(kThreads, 1) prefill_mma_kernel(const MmaParams p) {
  using S = MmaSmem<T, HD>;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  __shared__ MmaRowInfo ri;
  T* k_s = reinterpret_cast<T*>(smem_raw);  // [kStages][kBlockN][kRow]
  T* v_s = k_s + kStages * S::kTile;        // [kStages][kBlockN][kRow]
  const int g = static_cast<int>(blockIdx.x % p.hkv);
  const int row0 = (static_cast<int>(gridDim.x / p.hkv) - 1 - static_cast<int>(blockIdx.x / p.hkv)) * kBlockM;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  init_rows(p, row0, ri);
  load_q_tile<T, HD>(p, g, row0, k_s);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();
  // A fragments of the warp's 16 q rows: matrices (rows +0..7, dims +0..7), (+8..15, +0..7),
  // (+0..7, +8..15), (+8..15, +8..15) = a0..a3.
  uint32_t qf[HD / 16][4];
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk) ldmatrix_x4(qf[kk], k_s + (warp * 16 + (lane & 15)) * S::kRow + 16 * kk + (lane >> 4) * 8);

  float o[HD / 8][4];
#pragma unroll
  for (int dt = 0; dt < HD / 8; ++dt) o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  bool bad[2] = {false, false};
  for (;;) {
    __syncthreads();  // row info written, q in registers (K stages free) / previous pass finished
    if (threadIdx.x < 32) pick_pass(ri);  // (warp 0)
    __syncthreads();
    const int seq = ri.pass_seq, end = ri.pass_end;
    if (seq < 0) break;
    int limit[2];
    const int warp_limit = pass_limits(ri, seq, limit);  // the last key any row of this warp sees in the pass
    const int32_t* table = p.block_tables + size_t(seq) * p.max_blocks;
    const int n_tiles = (end + kBlockN - 1) / kBlockN;
    // One commit group per tile, empty past the last, so that at tile i "all but the newest
    // kStages - 2 groups" are tiles 0..i.
    const auto load = [&](int i) {
      if (i < n_tiles) {
        const int st = i % kStages;
        load_kv_tile<T, HD>(p, table, g, i * kBlockN, end, k_s + st * S::kTile, v_s + st * S::kTile,
                            &ri.pass_bad_key);
      }
      cp_async_commit();
    };
    for (int i = 0; i < kStages - 1; ++i) load(i);
    for (int i = 0; i < n_tiles; ++i) {
      const int stage = i % kStages;
      cp_async_wait<kStages - 2>();  // this thread's copies of tile i have landed
      // Everyone's have; and every warp is done with tile i - 1, whose stage tile i + 2 takes.
      __syncthreads();
      load(i + kStages - 1);
      if (i * kBlockN <= warp_limit) {  // some row of this warp sees a key of the tile
        mma_attend_tile<T, HD, kBlockN, S::kRow>(k_s + stage * S::kTile, v_s + stage * S::kTile, i * kBlockN, limit,
                                                   p.scale_log2, qf, o, m, l);
      }
    }
    cp_async_wait<0>();  // (only empty groups are left: nothing lands after the pass)
    finish_pass(ri, seq, limit, bad);
  }
  store_rows<T, HD, kBlockM>(p, ri, g, row0, o, l, bad);
}

template <typename T, int HD>
struct Launch {
  static void run(const MmaParams& p, cudaStream_t stream) {
    run_prefill_kernel(prefill_mma_kernel<T, HD>, MmaSmem<T, HD>::kBytes, kBlockM, kThreads, p, stream, kOp,
                       "attention prefill_mma_kernel");
  }
};

}  // namespace

bool prefill_mma_supported(const AttentionArgs& a) { return tensor_core_prefill_shape(a); }

void attention_prefill_mma(const AttentionArgs& a, cudaStream_t stream) {
  const AttentionDims d = check_attention_args(a, kOp);
  GQA_CHECK(prefill_mma_supported(a), kOp << ": no kernel for " << dtype_name(a.q.dtype()) << " q "
                                          << shape_str(a.q.shape()) << " (bf16/f16, head_dim 64 or 128)");
  if (d.n > 0) launch_prefill<Launch>(a, d, stream);
}

}  // namespace gqa::cuda
