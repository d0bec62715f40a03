// Tiled attention for prefill (and any batch that is not one token per sequence), correct for any
// prompt length over the paged cache: token t of sequence token_seq[t] attends to that
// sequence's cache positions [0, positions[t]], which kv_write has filled (chunked prefill: the
// first position of a chunk may be > 0).
//
// One thread block per (32 consecutive tokens, query head); the head index is the fastest grid
// dimension, so the blocks of one KV head's group run side by side and share K/V tiles in L2.
// The block streams 32-key K/V tiles through shared memory (converted to f32) and keeps an
// online softmax per token. Tokens of several sequences in one tile are handled one sequence
// at a time. CUDA cores, f32 math: cuda::attention uses it for f32 and head_dim 16/32; bf16/f16 at
// head_dim 64/128 go to the tensor-core flash prefill (attention_prefill_mma.h).
#pragma once

#include <cuda_runtime.h>

#include "kernels/ops.h"

namespace gqa::cuda {

void attention_prefill(const AttentionArgs& a, cudaStream_t stream);

}  // namespace gqa::cuda
