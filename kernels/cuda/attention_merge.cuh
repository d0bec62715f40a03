// The split merge's arithmetic (attention_merge.h), shared by the merge kernel (attention_merge.cu)
// and the tensor-core decode kernel's fused merge (DecodeOptions::fused_merge, where the last split
// block of a (token, KV head, head chunk) merges its rows): one thread folds splits of one query
// row's 4 output dims into a SoftmaxState<4>, loading kBatch splits before merging any (predicated
// loads, all in flight: the merge's time is load latency, and a loop of dependent merges would
// wait once per split), then stores the normalised result. Included only by attention_*.cu.
#pragma once

#include "kernels/cuda/attention_common.cuh"

namespace gqa::cuda::attn {

// Folds splits first, first + stride, ... (< num_splits) of one row into st. row_o: the row's
// partial outputs [num_splits][HD] offset to this thread's 4 dims (16-byte aligned); row_lse: its
// log-sum-exps [num_splits] (-inf: an empty split, weight 0). kL2Only: ld.global.cg, for partials
// that other blocks of the running grid wrote (read from the L2, never an L1 or read-only copy).
template <int HD, int kBatch, bool kL2Only = false>
__device__ __forceinline__ void merge_splits(const float* row_o, const float* row_lse, int first, int stride,
                                             int num_splits, SoftmaxState<4>& st) {
  for (int s0 = first; s0 < num_splits; s0 += stride * kBatch) {
    float4 o[kBatch];
    float lse[kBatch];
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      const int s = s0 + j * stride;
      const bool in = s < num_splits;
      const float4* src = reinterpret_cast<const float4*>(row_o + static_cast<size_t>(s) * HD);
      if constexpr (kL2Only) {
        o[j] = in ? __ldcg(src) : make_float4(0, 0, 0, 0);
        lse[j] = in ? __ldcg(row_lse + s) : -INFINITY;  // -inf: merges as nothing
      } else {
        o[j] = in ? *src : make_float4(0, 0, 0, 0);
        lse[j] = in ? row_lse[s] : -INFINITY;
      }
    }
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      const float o2[4] = {o[j].x, o[j].y, o[j].z, o[j].w};
      st.merge(o2, lse[j], 1.0f);  // a split's o is already normalised: its weight is exp2(lse - m)
    }
  }
}

// Stores the merged row's 4 dims, o / d, at dst.
template <typename T>
__device__ __forceinline__ void store_merged(SoftmaxState<4>& st, T* dst) {
  st.normalize();
#pragma unroll
  for (int e = 0; e < 4; ++e) dst[e] = store_f32<T>(st.o[e]);
}

}  // namespace gqa::cuda::attn
