// Flash-attention-2 style causal prefill on tensor cores (mma.sync m16n8k16, bf16/f16 in, f32
// accumulate) over the paged KV cache: the same function as attention_prefill (and the CPU twin)
// for any valid input, on bf16/f16 with head_dim 64 or 128. Design: docs/attention-kernels.md.
//
// GQA: the query heads of one KV head's group are packed into the rows of a tile
// (row = token * group + head-in-group), so each K/V tile loaded into shared memory serves every
// query head that reads it. Scratch is O(tile): no n x n buffer, no workspace. `out` may alias `q`.
// Bad device data (sequence index or position out of range, a block table entry outside the
// cache that a token's keys touch) gives that token NaN outputs, as in attention.h.
#pragma once

#include <cuda_runtime.h>

#include "kernels/ops.h"

namespace gqa::cuda {

// True when attention_prefill_mma has a kernel for a's dtype and head_dim (bf16/f16, 64/128).
// Looks only at q's dtype and shape; attention_prefill_mma still validates every tensor.
bool prefill_mma_supported(const AttentionArgs& a);

void attention_prefill_mma(const AttentionArgs& a, cudaStream_t stream);

}  // namespace gqa::cuda
