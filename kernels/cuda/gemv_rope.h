// The decode QKV GEMV with RoPE and the paged KV-cache write in its epilogue: for x [n, hidden]
// (n <= kGemvMaxRows) and the stacked weight wqkv [(hq + 2 hkv) hd, hidden] (+ bias), it writes
// the rotated q to rk.q and the rotated k and v to the caches at rk.slots: what Gemm::run into
// rk.qkv followed by the packed rope_kv_write do (rope_kv_write.h has the math), without writing
// the [n, (hq + 2 hkv) hd] product, the bias add and the second kernel. A row group reads the
// two rows of a rotation pair (i, i + hd/2) of a q or k head, or R consecutive v rows; sums stay
// f32 through bias and rotation and are rounded once (the unfused path rounds the product first).
// CudaOps::matmul_rope_kv_write takes this path when fused_rope_enabled(): the default (verified
// on an H200, see gemv.h's fused SwiGLU GEMV); GQA_FUSED_ROPE=0 or set_fused_rope(false) turns it off.
#pragma once

#include <cuda_runtime.h>

#include <vector>

#include "kernels/ops.h"

namespace gqa::cuda {

bool fused_rope_enabled();
void set_fused_rope(bool on);

// Whether gemv_rope_kv_write serves mm (x [n, k], w, optional bias [m], y = rk.qkv) and rk (the
// packed form): gemv_supported(mm.x, mm.w, mm.y), rk.qkv is mm.y, head_dim a multiple of 4.
// Looks at shapes and dtypes only; gemv_rope_kv_write still validates everything. Never throws.
bool gemv_rope_kv_write_supported(const MatmulArgs& mm, const RopeKvWriteArgs& rk);

// What the fused GEMV writes (q, the caches) and what its epilogue reads besides x and W (the
// bias, slots, positions, inv_freq): the fused norm's overlap rules (gemv.h, gemv_norm_serves).
std::vector<Tensor> gemv_rope_outputs(const RopeKvWriteArgs& rk);
std::vector<Tensor> gemv_rope_inputs(const MatmulArgs& mm, const RopeKvWriteArgs& rk);

// Throws gqa::Error ("cuda gemv_rope_kv_write: ...") unless supported and rk passes the packed
// rope_kv_write checks. A negative position or a slot outside the cache traps, as rope_kv_write.
// norm: the fused add + RMSNorm that makes mm.x (gemv.h, gemv_norm_serves), or null.
void gemv_rope_kv_write(const MatmulArgs& mm, const RopeKvWriteArgs& rk, cudaStream_t stream,
                        const AddRmsNormArgs* norm = nullptr);

}  // namespace gqa::cuda
