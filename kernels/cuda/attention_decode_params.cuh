// The split-KV decode kernels' shared parameters and output path (attention_decode.cu, the
// CUDA-core kernel; attention_decode_mma.cu, the tensor-core one): both run the grid
// (num_splits * head_chunks, hkv, n_tokens) of a DecodePlan and write either the output (one
// split) or f32 partials for attention_merge (or, the tensor-core kernel's fused merge, for its
// own last split block: merge_if_last). Included only by attention_decode*.cu.
#pragma once

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_merge.cuh"

namespace gqa::cuda::attn {

struct DecodeParams : PagedParams {
  float* part_o;    // [n, hq, num_splits, hd] (num_splits > 1)
  float* part_lse;  // [n, hq, num_splits]
  int head_chunks, num_splits, tiles_per_split;
  int num_partials;  // partial outputs per row: num_splits, or one per cluster (cluster reduction)
  int kv_prefetch;   // tensor-core kernel: L2 prefetch of its first stages before pdl_wait (DecodePlan)
};

// The tensor-core kernel's parameters with the fused merge (a type of their own, so the other
// builds keep DecodeParams as it was: ptxas allocates their registers differently for a larger
// parameter struct).
struct FusedMergeParams : DecodeParams {
  int* merge_count;  // arrival counters [n, hkv, head_chunks], zero between calls
};

// Writes the result for query head h of token t, dim d: `val` is o / d (NaN when poisoned), `lse`
// = m + log2(d) (used only with several partials); `split` is the partial's index (the split, or
// the cluster with the cluster reduction).
template <typename T, int HD>
__device__ __forceinline__ void store_result(const DecodeParams& p, int t, int h, int split, int d, float val,
                                             float lse) {
  const size_t row = size_t(t) * p.hq + h;
  if (p.num_partials == 1) {
    static_cast<T*>(p.out)[row * HD + d] = store_f32<T>(val);
  } else {
    p.part_o[(row * p.num_partials + split) * HD + d] = val;
    if (d == 0) p.part_lse[row * p.num_partials + split] = lse;
  }
}

// The keys [k_begin, k_end) split `split` of token t attends to (empty when k_begin >= k_end:
// a split past the token's position, or an invalid token) and the token's sequence.
struct SplitKeys {
  int seq, k_begin, k_end;
  bool valid;  // the token's sequence and position are in range and within the plan's reach
};
// The first key of split `split` (whatever the token's position).
template <int kTileKeys>
__device__ __forceinline__ int split_first_key(const DecodeParams& p, int split) {
  return split * p.tiles_per_split * kTileKeys;
}

// kL2Only: reads through the L2 only (ld.global.cg), for reads that precede pdl_wait (they then
// never leave an L1 copy behind).
template <int kTileKeys, bool kL2Only = false>
__device__ __forceinline__ SplitKeys split_keys(const DecodeParams& p, int t, int split) {
  SplitKeys s;
  s.seq = kL2Only ? __ldcg(p.token_seq + t) : p.token_seq[t];
  const int pos = kL2Only ? __ldcg(p.positions + t) : p.positions[t];
  const int keys_per_split = p.tiles_per_split * kTileKeys;
  const int64_t reach = int64_t(p.num_splits) * keys_per_split;
  s.valid = p.token_in_range(s.seq, pos) && int64_t(pos) < reach;
  s.k_begin = split_first_key<kTileKeys>(p, split);
  s.k_end = s.valid ? min(pos + 1, s.k_begin + keys_per_split) : 0;
  return s;
}

// The result of a block with no keys, for its `rows` query heads from head-in-group h0 (those
// within the group): an empty split of a valid token (o = 0, lse = -inf: weight 0 in the
// merge) or an invalid token (NaN).
template <typename T, int HD>
__device__ void store_empty(const DecodeParams& p, int t, int g, int h0, int rows, int split, bool valid) {
  for (int idx = threadIdx.x; idx < rows * HD; idx += blockDim.x) {
    const int gh = h0 + idx / HD;
    if (gh < p.group) {
      store_result<T, HD>(p, t, g * p.group + gh, split, idx % HD, valid ? 0.0f : NAN, valid ? -INFINITY : 0.0f);
    }
  }
}

// The fused merge (DecodePlan::fused_merge), called by every block of the grid after it stored
// its partial (store_result / store_empty) for query heads [h0, h0 + rows) of token t, KV head g,
// head chunk `chunk`: the block counts itself in the chunk's counter, and the last of its
// num_splits split blocks to arrive merges all their partials of those heads (those within the
// group) into the output, with the merge kernel's arithmetic (attention_merge.cuh); its arrival
// wraps the counter to 0 for the next call (or graph replay). Ordering (the pattern of cooperative groups'
// grid sync): the barrier makes the block's partial stores precede thread 0's fence, which
// precedes its atomic; the last block's thread 0 fences after its atomic, and the block reads the
// partials after a barrier, through the L2 (ld.global.cg). The output is complete only when the
// grid is: a dependent kernel reads it after its pdl_wait (griddepcontrol.wait waits for the whole
// grid), as with the merge kernel.
template <typename T, int HD, int kBlockThreads>
__device__ __forceinline__ void merge_if_last(const FusedMergeParams& p, int t, int g, int chunk, int h0, int rows) {
  __shared__ int last;
  __syncthreads();  // every thread's partial stores precede thread 0's fence and arrival
  if (threadIdx.x == 0) {
    int* count = p.merge_count + (size_t(t) * p.hkv + g) * p.head_chunks + chunk;
    __threadfence();
    // (atomicInc wraps: the last arrival leaves 0 behind, ready for the next call or replay, in the
    // same atomic; a counter ever left past num_splits - 1 wraps on its next arrival too)
    const unsigned top = unsigned(p.num_splits - 1);
    last = atomicInc(reinterpret_cast<unsigned*>(count), top) == top;
    __threadfence();
  }
  __syncthreads();
  if (!last) return;
  constexpr int kLanes = HD / 4;  // threads covering one row, 4 dims each (the merge kernel's)
  for (int idx = threadIdx.x; idx < rows * kLanes; idx += kBlockThreads) {
    const int r = idx / kLanes, lane = idx % kLanes;
    if (h0 + r >= p.group) break;  // (idx only grows: every later row is past the group too)
    const size_t row = size_t(t) * p.hq + size_t(g) * p.group + h0 + r;
    SoftmaxState<4> st;
    st.init();
    merge_splits<HD, 8, true>(p.part_o + row * p.num_partials * HD + lane * 4, p.part_lse + row * p.num_partials, 0,
                              1, p.num_partials, st);
    store_merged<T>(st, static_cast<T*>(p.out) + row * HD + lane * 4);
  }
}

}  // namespace gqa::cuda::attn
