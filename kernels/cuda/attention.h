// Causal GQA attention over the paged KV cache on the GPU (the CUDA twin of gqa::cpu::attention).
//
// attention() validates every tensor on the host, then runs
//   a.one_token_per_seq               -> split-KV decode kernel           (attention_decode.h),
//   else bf16/f16 with head_dim 64/128 -> tensor-core flash prefill        (attention_prefill_mma.h),
//   otherwise                         -> tiled CUDA-core prefill kernel   (attention_prefill.h).
// All three compute the same function for any valid input; the choice only picks the faster one.
// q, k_cache, v_cache and out share one dtype (f32, f16 or bf16); head_dim is 16, 32, 64 or 128;
// softmax and accumulation are f32. `out` may alias `q`.
//
// Device-side values (token_seq, positions, block table entries) are not read by the host: a
// token whose sequence index or position is out of range, or whose keys touch a block table
// entry outside [0, num_blocks), gets NaN outputs instead of an out-of-bounds access.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/ops.h"

namespace gqa::cuda {

// Throws gqa::Error naming the tensor unless `a` describes a valid call (devices, dtypes,
// shapes, head_dim 16/32/64/128, hq % hkv == 0, 16-byte aligned data, sizes within int32 indexing).
AttentionDims check_attention_args(const AttentionArgs& a, const char* op);

void attention(const AttentionArgs& a, cudaStream_t stream);

}  // namespace gqa::cuda
