// The decode-step GEMM y[n, m] = x[n, k] W[m, k]^T for kGemvMmaMinRows <= n <= kGemvMmaMaxRows
// (decode batches 9..16, just past gemv.h's CUDA-core kernel), on tensor cores: mma.sync
// m16n8k16 with 16 rows of W as A and x^T as B (two n-tiles of 8 tokens), both read straight from
// global memory with 16-byte loads (gemv_mma.cu explains the mapping). bf16 or f16, fp32
// accumulation, output rounded once. No bias: Gemm::run adds it after. Gemm::run takes this path
// where gemv_mma_supported holds, use_gemv() is on and gemv_mma_enabled(): opt-in (GQA_GEMV_MMA=1
// or set_gemv_mma(true)); verified on an H200 (run 3) and measured slower than cuBLAS there in
// whole steps at batch 16 (run 4: 9.90 vs 8.77 ms at 8K); the rest stays with cuBLAS.
#pragma once

#include <cuda_runtime.h>

#include "kernels/ops.h"

namespace gqa::cuda {

constexpr int kGemvMmaMinRows = 9;   // below: gemv.h's kernel (kGemvMaxRows = 8)
constexpr int kGemvMmaMaxRows = 16;  // one m16n8k16 B operand pair: two n-tiles of 8 tokens

// The process-wide switch of Gemm::run's use of this kernel: off unless GQA_GEMV_MMA=1 or
// set_gemv_mma(true). (Its tests call gemv_mma directly and switch it on for Gemm::run.)
bool gemv_mma_enabled();
void set_gemv_mma(bool on);

// Whether gemv_mma can serve y = x W^T: x [n, k], w [m, k], y [n, m] device tensors of one
// dtype, bf16 or f16, kGemvMmaMinRows <= n <= kGemvMmaMaxRows, m >= 1, k >= 8 with k % 8 == 0,
// x and w data 16-byte aligned (so every row starts on a 16-byte boundary), sizes within int32.
// y may have any alignment of its dtype (written element by element). Never throws.
bool gemv_mma_supported(const Tensor& x, const Tensor& w, const Tensor& y);

// y = x w^T. Throws gqa::Error ("cuda gemv_mma: ...") unless gemv_mma_supported(x, w, y) and y
// does not overlap x or w. Launched through launch_pdl (PDL-aware, graph-capturable).
void gemv_mma(const Tensor& x, const Tensor& w, const Tensor& y, cudaStream_t stream);

}  // namespace gqa::cuda
