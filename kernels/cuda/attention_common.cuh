// Pieces shared by the attention kernels (decode, prefill, split merge): the paged-cache kernel
// parameters, 16-byte vector loads, cp.async, warp reductions, the online-softmax state, the
// dynamic shared-memory opt-in, and the dtype / head-dim / group-chunk dispatch macros.
// Included only by attention_*.cu.
//
// Scores are kept in log2 units: q is pre-multiplied by scale * log2(e), so exp(x) becomes
// exp2(x) and a split's log-sum-exp is m + log2(d).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <utility>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/dynamic_smem.h"
#include "kernels/cuda/page_divider.h"
#include "kernels/cuda/prefill_pass_pick.h"
#include "kernels/ops.h"

namespace gqa::cuda::attn {

constexpr float kLog2e = 1.4426950408889634f;

// The operands and sizes every attention kernel takes; each kernel's parameters extend it.
struct PagedParams {
  const void* q;        // [n, hq, hd]
  const void* k_cache;  // [num_blocks, block_size, hkv, hd]
  const void* v_cache;
  void* out;            // [n, hq, hd]
  const int32_t* block_tables;  // [n_seqs, max_blocks]
  const int32_t* token_seq;     // [n]
  const int32_t* positions;     // [n]
  int hq, hkv, group, num_blocks, block_size, n_seqs, max_blocks;
  float scale_log2;  // scale * log2(e)
  PageDivider pages;  // key / block_size

  // From a call validated by check_attention_args (sizes checked to fit int32).
  void set_operands(const AttentionArgs& a, const AttentionDims& d) {
    q = a.q.data();
    k_cache = a.k_cache.data();
    v_cache = a.v_cache.data();
    out = a.out.data();
    block_tables = a.block_tables.data_as<int32_t>();
    token_seq = a.token_seq.data_as<int32_t>();
    positions = a.positions.data_as<int32_t>();
    hq = static_cast<int>(d.hq);
    hkv = static_cast<int>(d.hkv);
    group = static_cast<int>(d.group());
    num_blocks = static_cast<int>(d.num_blocks);
    block_size = static_cast<int>(d.block_size);
    pages = PageDivider::make(block_size);
    n_seqs = static_cast<int>(d.n_seqs);
    max_blocks = static_cast<int>(d.max_blocks);
    scale_log2 = a.scale * kLog2e;
  }

  // Whether a token's sequence index and position lie within the block tables (a token outside
  // gets NaN outputs).
  __device__ __forceinline__ bool token_in_range(int seq, int pos) const {
    return seq >= 0 && seq < n_seqs && pos >= 0 && int64_t(pos) < int64_t(max_blocks) * block_size;
  }
  __device__ __forceinline__ bool page_in_cache(int page) const { return page >= 0 && page < num_blocks; }
  // The block-table column of key `key` >= 0 (key / block_size, without a division).
  __device__ __forceinline__ int page_index(int key) const { return pages.divide(key); }
  // Element offset of key `key`'s row of KV head g in k_cache / v_cache ([num_blocks, block_size,
  // hkv, hd]), on page `page` (its block-table entry, checked by the caller).
  // The cache row page * block_size + key % block_size = (page - key / block_size) * block_size + key
  // is below num_blocks * block_size <= INT32_MAX (check_attention_args), and so is every term.
  __device__ __forceinline__ size_t row_offset(int page, int key, int g, int hd) const {
    const int row = (page - page_index(key)) * block_size + key;
    return size_t(static_cast<uint32_t>(row)) * static_cast<uint32_t>(hkv * hd) + static_cast<uint32_t>(g * hd);
  }
};

// For the prefill kernels, whose block serves its rows one sequence at a time ("passes"), with
// per-row bookkeeping `ri` in shared memory: seq[N] (-1 invalid token, -2 no token), pos[N],
// done[N] (handled by an earlier pass, or nothing to do).
// Row i of `ri` for token t, where `exists` says whether row i has a token at all.
template <typename Rows>
__device__ __forceinline__ void init_pass_row(const PagedParams& p, Rows& ri, int i, bool exists, int t) {
  int seq = -2, pos = -1;
  if (exists) {
    seq = p.token_seq[t];
    pos = p.positions[t];
    if (!p.token_in_range(seq, pos)) seq = -1;
  }
  ri.seq[i] = seq;
  ri.pos[i] = pos;
  // (every row with seq < 0 done from the start, and done never cleared: pick_next_pass_warp
  // relies on no unfinished row having seq < 0)
  ri.done[i] = seq < 0;
}
// One thread (the plain prefill kernel's thread 0): the next pass = the first unfinished row's
// sequence (pass_seq, -1 when every row is done) and the keys [0, pass_end) its rows need
// (prefill_pass_pick.h). The tensor-core kernels pick by warp: pick_next_pass_warp.
template <int N, typename Rows>
__device__ void pick_next_pass(Rows& ri) {
  const PassPick pick = pass_pick_serial<N>(ri.done, ri.seq, ri.pos);
  ri.pass_seq = pick.seq;
  ri.pass_end = pick.end;
}

// The same pass picked by warp 0, all 32 lanes (N a multiple of 32), each over N / 32 rows: the
// same choice as pick_next_pass, since a row with seq < 0 is done (init_pass_row).
template <int N, typename Rows>
__device__ __forceinline__ void pick_next_pass_warp(Rows& ri) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  const PassPick pick = pass_pick_lanes<N>(ri.done, ri.seq, ri.pos, lane, [](int v, int off) {
    return __shfl_xor_sync(0xffffffffu, v, off);
  });
  if (lane == 0) {
    ri.pass_seq = pick.seq;
    ri.pass_end = pick.end;
  }
}

// Elements of T in one 16-byte vector.
template <typename T>
constexpr int vec_of() { return 16 / static_cast<int>(sizeof(T)); }

// Asynchronous 16-byte global -> shared copy; when !valid the 16 shared bytes are zero-filled
// and nothing is read (`src` must still be a mapped address).
__device__ __forceinline__ void cp_async_16(void* dst_smem, const void* src, bool valid) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(dst_smem));
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most N of this thread's committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Reductions over `width` consecutive lanes (width a power of two <= 32); every lane gets the result.
template <int width = 32>
__device__ __forceinline__ float group_max(float v) {
#pragma unroll
  for (int o = width / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
template <int width = 32>
__device__ __forceinline__ float group_sum(float v) {
#pragma unroll
  for (int o = width / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Online softmax over some keys, for N output dims of one query row (FlashInfer's state_t):
// m = max score seen (log2 units), d = sum of exp2(s - m), o = sum of exp2(s - m) * v.
// The empty state is {m = -inf, d = 0, o = 0}; merging two states rescales both to the larger
// max, so partial results over disjoint key ranges combine exactly, in any order.
template <int N>
struct SoftmaxState {
  float o[N];
  float m;
  float d;

  __device__ __forceinline__ void init() {
#pragma unroll
    for (int i = 0; i < N; ++i) o[i] = 0.0f;
    m = -INFINITY;
    d = 0.0f;
  }
  // Adds the state {o2, m2, d2}. An empty other (m2 = -inf) changes nothing; exp2(-inf) = 0
  // covers this state being empty.
  __device__ __forceinline__ void merge(const float* o2, float m2, float d2) {
    if (m2 == -INFINITY) return;
    const float m_new = fmaxf(m, m2);
    const float a = exp2f(m - m_new);
    const float b = exp2f(m2 - m_new);
    d = d * a + d2 * b;
#pragma unroll
    for (int i = 0; i < N; ++i) o[i] = o[i] * a + o2[i] * b;
    m = m_new;
  }
  __device__ __forceinline__ void merge(const SoftmaxState& other) { merge(other.o, other.m, other.d); }
  // o / d: the softmax-weighted average (NaN for an empty state, which callers never store).
  __device__ __forceinline__ void normalize() {
    const float inv = 1.0f / d;
#pragma unroll
    for (int i = 0; i < N; ++i) o[i] *= inv;
  }
  __device__ __forceinline__ float lse() const { return m + log2f(d); }  // log2-sum-exp2
};

}  // namespace gqa::cuda::attn

// Compile-time dispatch: each runs its body with a constexpr / type alias bound to the runtime
// value, and throws gqa::Error naming `op` for any value with no compiled kernel.
#define GQA_ATTN_DISPATCH_DTYPE(dtype, op, T, ...)                                     \
  switch (dtype) {                                                                     \
    case ::gqa::DType::kF32: { using T = float; __VA_ARGS__ break; }                   \
    case ::gqa::DType::kF16: { using T = __half; __VA_ARGS__ break; }                  \
    case ::gqa::DType::kBF16: { using T = __nv_bfloat16; __VA_ARGS__ break; }          \
    default: GQA_FAIL(op << ": unsupported dtype " << ::gqa::dtype_name(dtype));       \
  }

// Head dims 16 and 32 serve small (test / toy) models: the kernels' thread mappings need
// head_dim to be a multiple of 16 (two 16-byte bf16/f16 vectors, the prefill's 4 threads x 4 dims).
#define GQA_ATTN_DISPATCH_HEAD_DIM(head_dim, op, HD, ...)                              \
  switch (head_dim) {                                                                  \
    case 16: { constexpr int HD = 16; __VA_ARGS__ break; }                             \
    case 32: { constexpr int HD = 32; __VA_ARGS__ break; }                             \
    case 64: { constexpr int HD = 64; __VA_ARGS__ break; }                             \
    case 128: { constexpr int HD = 128; __VA_ARGS__ break; }                           \
    default: GQA_FAIL(op << ": unsupported head_dim " << (head_dim) << " (16, 32, 64 or 128)"); \
  }

// Query heads one decode block serves at once (1, 2, 4 or 8).
#define GQA_ATTN_DISPATCH_GROUP_CHUNK(chunk, op, GC, ...)                              \
  switch (chunk) {                                                                     \
    case 1: { constexpr int GC = 1; __VA_ARGS__ break; }                               \
    case 2: { constexpr int GC = 2; __VA_ARGS__ break; }                               \
    case 4: { constexpr int GC = 4; __VA_ARGS__ break; }                               \
    case 8: { constexpr int GC = 8; __VA_ARGS__ break; }                               \
    default: GQA_FAIL(op << ": unsupported query-head chunk " << (chunk) << " (1, 2, 4 or 8)"); \
  }
