// The packed-row bookkeeping and the K/V tile copies both tensor-core prefill kernels share
// (attention_prefill_mma.cu, mma.sync; attention_prefill_wgmma_tiles.cuh, wgmma). Included only by
// those two files.
//
// Rows: for KV head g, packed row R = token * group + i stands for query head g * group + i of
// that token (its q row is contiguous in q: [n, hq, hd] holds a group's heads side by side).
// A block of kRows packed rows serves them one sequence at a time ("passes"; usually one): for
// the sequence of the first unfinished row it streams keys [0, max position + 1 of that
// sequence's rows). Warp w holds rows 16w..16w+15 in the mma C layout (this lane: rows
// 16w + gid and 16w + gid + 8), as mma.sync warps and wgmma warpgroups both leave them.
#pragma once

#include <climits>
#include <cmath>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_mma.cuh"
#include "kernels/cuda/prefill_tile_copy.h"

namespace gqa::cuda::attn {

struct PrefillParams : PagedParams {
  int rows;  // n * group packed rows per KV head
  // The online softmax's lazy-rescale slack in log2 units (softmax_scores; 0: rescale whenever a
  // row's max moves). Only the wgmma kernels read it (attention_prefill_wgmma.h's lazy rescale).
  float rescale_slack;
};

// Per-row bookkeeping in shared memory: seq = sequence (-1 invalid token, -2 no row),
// pos = the token's position, done = handled by an earlier pass (or nothing to do).
template <int kRows>
struct PrefillRowInfo {
  int seq[kRows];
  int pos[kRows];
  int done[kRows];
  int pass_seq, pass_end;
  int pass_bad_key;  // smallest key of the pass whose block table entry is outside the cache
};

// Threads 0..kRows-1: the rows [row0, row0 + kRows) of the block.
template <int kRows>
__device__ void init_rows(const PrefillParams& p, int row0, PrefillRowInfo<kRows>& ri) {
  if (threadIdx.x >= kRows) return;
  const int r = row0 + static_cast<int>(threadIdx.x);
  init_pass_row(p, ri, threadIdx.x, r < p.rows, r / p.group);
}

// Warp 0, all its lanes: the next pass = the first unfinished row's sequence and the keys its rows
// need (pick_next_pass_warp).
template <int kRows>
__device__ void pick_pass(PrefillRowInfo<kRows>& ri) {
  pick_next_pass_warp<kRows>(ri);
  if (threadIdx.x == 0) ri.pass_bad_key = INT_MAX;
}

// This lane's two rows (block rows 16 * warp + gid, + 8).
__device__ __forceinline__ void lane_rows(int (&rows)[2]) {
  const int warp = threadIdx.x / 32, gid = (threadIdx.x % 32) / 4;
  rows[0] = warp * 16 + gid;
  rows[1] = rows[0] + 8;
}

// The last key each of this lane's rows sees in the pass of `seq` (-1: the row is not in it), and
// the largest over the warp (returned).
template <int kRows>
__device__ __forceinline__ int pass_limits(const PrefillRowInfo<kRows>& ri, int seq, int (&limit)[2]) {
  int rows[2];
  lane_rows(rows);
#pragma unroll
  for (int r = 0; r < 2; ++r) limit[r] = ri.seq[rows[r]] == seq && !ri.done[rows[r]] ? ri.pos[rows[r]] : -1;
  int warp_limit = max(limit[0], limit[1]);
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) warp_limit = max(warp_limit, __shfl_xor_sync(0xffffffffu, warp_limit, off));
  return warp_limit;
}

// Row r done if it was in the pass of `seq`.
template <int kRows>
__device__ __forceinline__ void mark_row_done(PrefillRowInfo<kRows>& ri, int r, int seq) {
  ri.done[r] = ri.done[r] || ri.seq[r] == seq;
}

// After a pass of `seq` whose smallest bad key is bad_key: this lane's rows that reached a bad key
// are poisoned; thread r < kRows marks row r done if it was the pass's (every thread calls this,
// and a block has at least kRows threads: the mma.sync kernel two a row, the wgmma kernels'
// consumers two a row). (The caller synchronises before the next pick_pass.) bad_key is the
// pass's record in ri (ri.pass_bad_key), or the persistent wgmma build's, which it keeps outside ri.
template <int kRows>
__device__ __forceinline__ void finish_pass(PrefillRowInfo<kRows>& ri, int seq, const int (&limit)[2], bool (&bad)[2],
                                            const int& bad_key) {
#pragma unroll
  for (int r = 0; r < 2; ++r) bad[r] = bad[r] || (limit[r] >= 0 && limit[r] >= bad_key);
  if (threadIdx.x < kRows) mark_row_done(ri, static_cast<int>(threadIdx.x), seq);
}
template <int kRows>
__device__ __forceinline__ void finish_pass(PrefillRowInfo<kRows>& ri, int seq, const int (&limit)[2], bool (&bad)[2]) {
  finish_pass(ri, seq, limit, bad, ri.pass_bad_key);
}

// The element offset in q of packed row `row` of KV head g, dims from e; false (nothing to read:
// the copy zero-fills) for a row past the end.
__device__ __forceinline__ bool q_source(const PrefillParams& p, int g, int row, int e, int hd, size_t& off) {
  if (row >= p.rows) return false;
  off = (size_t(row / p.group) * p.hq + size_t(g) * p.group + row % p.group) * hd + e;
  return true;
}

// The element offset in the K and V caches of key `key` of KV head g, dims from e; false (nothing
// to read: the copy zero-fills, so a masked key can never bring a NaN into P V) for a key >= end
// or on a block table entry outside the cache, the latter recorded in *bad_key (shared atomicMin).
__device__ __forceinline__ bool kv_source(const PrefillParams& p, const int32_t* table, int g, int key, int end, int e,
                                          int hd, int* bad_key, size_t& off) {
  if (key >= end) return false;
  const int page = table[p.page_index(key)];
  if (!p.page_in_cache(page)) {
    atomicMin(bad_key, key);
    return false;
  }
  off = p.row_offset(page, key, g, hd) + e;
  return true;
}

// Issues the copies of keys [start, start + kKeys) of KV head g into one K and one V tile laid out
// as Copy says (prefill_tile_copy.h: each thread several chunks of one key per pass, so one page
// lookup per key). Keys >= end, and keys whose block table entry is outside the cache, are
// zero-filled (so a masked key can never bring a NaN into P V); the latter are recorded in *bad_key.
// tid: this thread's index among the Copy's threads. kParts: both tiles (kKvBoth), or the K or
// the V tile alone (kKvKeys, kKvValues: the persistent wgmma build hands them over apart).
constexpr int kKvKeys = 1, kKvValues = 2, kKvBoth = 3;
template <typename T, int HD, class Copy, int kParts = kKvBoth>
__device__ __forceinline__ void copy_kv_tile(const PrefillParams& p, const int32_t* table, int g, int start, int end,
                                             unsigned char* k_dst, unsigned char* v_dst, int* bad_key, int tid) {
  static_assert(sizeof(T) == 2, "16-byte chunks of 8 elements");
  const T* k_cache = static_cast<const T*>(p.k_cache);
  const T* v_cache = static_cast<const T*>(p.v_cache);
#pragma unroll
  for (int ps = 0; ps < Copy::kPasses; ++ps) {
    const int j = Copy::key(tid, ps), c0 = Copy::chunk(tid, 0);
    size_t off = 0;
    const bool in = kv_source(p, table, g, start + j, end, 8 * c0, HD, bad_key, off);
    const uint32_t at = Copy::byte(j, c0);
#pragma unroll
    for (int i = 0; i < Copy::kPerRow; ++i) {  // chunk c0 + kChunkStep i
      if constexpr ((kParts & kKvKeys) != 0) {
        cp_async_16(k_dst + at + i * Copy::kByteStep, k_cache + off + 8 * Copy::kChunkStep * i, in);
      }
      if constexpr ((kParts & kKvValues) != 0) {
        cp_async_16(v_dst + at + i * Copy::kByteStep, v_cache + off + 8 * Copy::kChunkStep * i, in);
      }
    }
  }
}

// out = O / l for this lane's two rows (NaN for an invalid token or one whose keys hit a bad page).
template <typename T, int HD, int kRows>
__device__ __forceinline__ void store_rows(const PrefillParams& p, const PrefillRowInfo<kRows>& ri, int g, int row0,
                                           const float (&o)[HD / 8][4], const float (&l)[2], const bool (&bad)[2]) {
  const int tig = threadIdx.x % 4;
  int rows[2];
  lane_rows(rows);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float l_row = group_sum<4>(l[r]);  // all lanes, before any of them leaves
    const int rr = rows[r], row = row0 + rr;
    if (ri.seq[rr] == -2) continue;  // past the last row
    const bool poisoned = ri.seq[rr] == -1 || bad[r];
    const float inv = 1.0f / l_row;
    T* out = static_cast<T*>(p.out) + (size_t(row / p.group) * p.hq + size_t(g) * p.group + row % p.group) * HD;
#pragma unroll
    for (int dt = 0; dt < HD / 8; ++dt) {
      const float v0 = poisoned ? NAN : o[dt][2 * r] * inv, v1 = poisoned ? NAN : o[dt][2 * r + 1] * inv;
      *reinterpret_cast<uint32_t*>(out + 8 * dt + 2 * tig) = pack2<T>(v0, v1);
    }
  }
}

// ---- host side, shared by the two kernels' entry points ----

// The shapes both tensor-core prefills serve: bf16/f16 q [n, hq, 64 or 128].
inline bool tensor_core_prefill_shape(const AttentionArgs& a) {
  const DType dt = a.q.dtype();
  return a.q.ndim() == 3 && (dt == DType::kBF16 || dt == DType::kF16) && (a.q.dim(2) == 64 || a.q.dim(2) == 128);
}

// Grid size: hkv * ceil(rows / rows_per_block) blocks (checked to fit the 1-D grid).
inline unsigned prefill_grid(const PrefillParams& p, int rows_per_block, const char* op) {
  const int64_t blocks = int64_t(p.hkv) * ((int64_t(p.rows) + rows_per_block - 1) / rows_per_block);
  GQA_CHECK(blocks <= INT32_MAX, op << ": " << blocks << " blocks exceed the grid");
  return static_cast<unsigned>(blocks);
}

// One launch of a prefill kernel: prefill_grid(p, rows_per_block) blocks of `threads`, with `smem`
// bytes of dynamic shared memory (allowed first), checked under `name`.
template <typename Kernel>
void run_prefill_kernel(Kernel* kernel, size_t smem, int rows_per_block, int threads, const PrefillParams& p,
                        cudaStream_t stream, const char* op, const char* name) {
  allow_dynamic_smem(kernel, smem);
  kernel<<<prefill_grid(p, rows_per_block, op), threads, smem, stream>>>(p);
  GQA_CUDA_LAUNCH_CHECK(name);
}

// Runs Launch<T, HD>::run(params, stream) for a call validated by check_attention_args whose shape
// is a tensor_core_prefill_shape.
// The kernels' parameters for such a call.
inline PrefillParams prefill_params(const AttentionArgs& a, const AttentionDims& d) {
  PrefillParams p{};
  p.set_operands(a, d);
  p.rows = static_cast<int>(d.n * d.group());  // <= n * hq, checked to fit int32
  return p;
}

template <template <typename, int> class Launch>
void launch_prefill(const AttentionArgs& a, const AttentionDims& d, cudaStream_t stream, float rescale_slack = 0.0f) {
  PrefillParams p = prefill_params(a, d);
  p.rescale_slack = rescale_slack;
  if (a.q.dtype() == DType::kBF16) {
    if (d.hd == 64) Launch<__nv_bfloat16, 64>::run(p, stream);
    else Launch<__nv_bfloat16, 128>::run(p, stream);
  } else {
    if (d.hd == 64) Launch<__half, 64>::run(p, stream);
    else Launch<__half, 128>::run(p, stream);
  }
}

}  // namespace gqa::cuda::attn
