// Merges attention computed over disjoint key ranges ("splits") of the same query rows:
// out[r] = sum_s w_s * o[r][s] / sum_s w_s with w_s = exp2(lse[r][s] - max_s lse[r][s]).
// Each split's o is already normalised (its own softmax average) and lse is its log2-sum-exp2 of
// the scaled scores; a split with lse = -inf (no keys) has weight 0. Used by the split-KV decode
// kernel; the same merge combines partial attention exchanged between ranks.
#pragma once

#include <cuda_runtime.h>

#include "core/tensor.h"

namespace gqa::cuda {

struct AttentionMergeArgs {
  Tensor part_o;    // f32 [rows, splits, hd] device
  Tensor part_lse;  // f32 [rows, splits] device
  Tensor out;       // [rows, hd] device, f32 / f16 / bf16; hd 16, 32, 64 or 128
};

void attention_merge(const AttentionMergeArgs& a, cudaStream_t stream);

}  // namespace gqa::cuda
