// Rotary embedding of q and k fused with the paged KV cache write, on the GPU: one kernel does
//   rope(q); rope(k); kv_write(k, v, k_cache, v_cache, slots)
// with the math of rope.cu (angle = float(pos) * inv_freq[i] rounded to f32, cos/sin in f32 times
// attention_scaling, the HF rotate_half pairs (i, i + hd/2) rotated in f32 and rounded once) and
// the slot rule of kv_write.cu (token t's K/V row goes to row slots[t] of the cache viewed as
// [num_blocks * block_size, hkv, hd]). q and k are rotated in place; the cache gets exactly the
// rotated k values. q: [n, hq, hd]; k, v: [n, hkv, hd]; k_cache, v_cache:
// [num_blocks, block_size, hkv, hd], all one dtype (f32, f16, bf16); slots, positions: i32 [n];
// inv_freq: f32 [hd/2]. A negative position or a slot outside the cache stops the kernel with a
// named device-side assert (device_require.cuh; the CPU twins throw). The packed form (a.qkv defined, kernels/packed_qkv.h) reads
// q, k and v from the rows of qkv [n, (hq + 2 hkv) hd], leaves qkv as it is and writes the
// rotated q to a.q: the split of one multi-token QKV GEMM costs no extra kernel.
#pragma once

#include <cuda_runtime.h>

#include "kernels/ops.h"
#include "kernels/packed_qkv.h"

namespace gqa::cuda {

void rope_kv_write(const RopeKvWriteArgs& a, cudaStream_t stream);

// The checks of the packed form on the GPU (shapes, dtypes, caches, slots, positions, inv_freq,
// no overlap of the caches with q or qkv), naming `op`; returns the head counts. Also used by
// the fused QKV GEMV (gemv_rope.h), whose qkv is the product it never writes.
PackedQkvDims check_rope_kv_write_packed(const RopeKvWriteArgs& a, const char* op);

}  // namespace gqa::cuda
