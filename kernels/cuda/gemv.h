// The decode-step GEMM: y[n, m] = x[n, k] W[m, k]^T for a few rows of x (n <= kGemvMaxRows),
// bf16 or f16, fp32 accumulation, output rounded once. At such n the GEMM is a stream of W from
// HBM; this kernel reads W once with 16-byte vector loads (gemv.cu explains the mapping) where
// cuBLASLt reaches a third to two thirds of copy bandwidth. No bias: Gemm::run adds it after.
// Gemm::run takes this path whenever gemv_supported holds; the rest stays with cuBLAS.
#pragma once

#include <cuda_runtime.h>

#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/ops.h"

namespace gqa::cuda {

constexpr int kGemvMaxRows = 8;  // the largest n (decode batch) the kernel serves

// The operand checks of the decode GEMVs (this one and gemv_mma.h) for min_rows <= n <= max_rows:
// x [n, k], w [m, k], y [n, m] device tensors of one dtype, bf16 or f16, m >= 1, k >= 8 with
// k % 8 == 0, x and w data 16-byte aligned, sizes within int32. Never throws.
bool decode_gemv_operands_ok(const Tensor& x, const Tensor& w, const Tensor& y, int64_t min_rows, int64_t max_rows);
// Throws gqa::Error naming `op` unless decode_gemv_operands_ok holds and y overlaps neither input.
void check_decode_gemv_call(const char* op, const Tensor& x, const Tensor& w, const Tensor& y, int64_t min_rows,
                            int64_t max_rows);

// Whether gemv can serve y = x W^T: x [n, k], w [m, k], y [n, m] device tensors of one dtype,
// bf16 or f16, 1 <= n <= kGemvMaxRows, m >= 1, 1 <= k with k % 8 == 0, x and w data 16-byte
// aligned (so every row starts on a 16-byte boundary), sizes within int32. y may have any
// alignment of its dtype (written element by element). Never throws.
bool gemv_supported(const Tensor& x, const Tensor& w, const Tensor& y);

// y = x w^T. Throws gqa::Error ("cuda gemv: ...") unless gemv_supported(x, w, y) and y does not
// overlap x or w. Launched through launch_pdl (PDL-aware, graph-capturable).
void gemv(const Tensor& x, const Tensor& w, const Tensor& y, cudaStream_t stream);

// The same GEMV with a SwiGLU epilogue, for the MLP's stacked gate/up projection: w = [gate_proj;
// up_proj] ([2f, k]) and act [n, f] = silu(x gate^T) * (x up^T), from the f32 sums (the unfused
// path rounds the [n, 2f] product to bf16/f16 first); the product is never written. One row group
// reads gate row j and up row f + j. gemv_swiglu_supported: gemv_supported with y = [n, 2f].
// CudaOps::matmul_swiglu takes this path when fused_swiglu_enabled(): the default (verified on an
// H200 with the fused RoPE GEMV: decode steps at batch 1 2-4% faster, bench/results/
// NVIDIA-H200-20261126-0628*-b1-*.md); GQA_FUSED_SWIGLU=0 or set_fused_swiglu(false) turns it off.
// The launch of the decode GEMVs (gemv, gemv_swiglu, gemv_rope_kv_write) forced process-wide, for
// benchmarks (gqa-bench's GEMV sweep): group_warps 1, 2, 4 or 8 warps per row group (0: the plan
// from k and m), deep: 16 loads in flight per thread instead of 8 at n <= 2, bulk: the bulk-copy
// build (its own warps per group; group_warps and deep do not apply to it), no_budget: at n <= 2
// (not deep, not with the norm prologue) the kernel built without a register budget, as before
// the budget (gemv_kernel.cuh, min_resident_blocks: 4-6 loads in flight instead of 8), for an A/B
// in one run; per_thread: the per-thread-load build with the plan's launch where the bulk build is
// the default (a forced group_warps, deep or no_budget implies it); ring: the ring build (below)
// where it serves, whatever gemv_ring_enabled() says. Recorded CUDA graphs keep the launch they
// were recorded with. set_gemv_tuning throws gqa::Error for another count.
struct GemvTuning {
  int group_warps = 0;
  bool deep = false;
  bool bulk = false;        // the bulk-copy build (below) where it serves k, whatever gemv_bulk_enabled() says
  bool no_budget = false;   // n <= 2: the build without a register budget
  bool per_thread = false;  // the per-thread-load build, whatever gemv_bulk_enabled() says
  bool ring = false;        // the ring build where it serves (with the norm prologue too)
  // Whether the tuning asks for the per-thread-load build (bulk or ring then win only where asked
  // for too).
  bool forces_per_thread() const { return per_thread || group_warps > 0 || deep || no_budget; }
};

// The decode GEMVs' bulk-copy build (gemv_bulk.cuh, gemv_bulk_kernel): W reaches each block
// through one cp.async.bulk per row into shared memory instead of per-thread loads, all issued
// before pdl_wait, so under PDL they stream during the previous kernel's tail; the same row groups,
// arithmetic and epilogues (plain, SwiGLU, RoPE + KV write), not with the fused norm (below). Serves rows
// of up to kGemvBulkMaxBytes per row group (R rows of k). The default (GQA_GEMV_BULK=0 or
// set_gemv_bulk(false) turns it off; GemvTuning::bulk forces it, GemvTuning::per_thread the other
// build) since runs 6-7 on an H200 (bench/results/NVIDIA-H200-20261126-134948.md, GEMV sweep):
// the 70B T=8 shard's decode step at batch 1, 8K, 6.07 ms vs 6.28 for the per-thread build's plan
// (each GEMV timed alone, cold, is 0-12% slower: its gain is the overlap), its tests, memcheck and
// gqa-generate with it passed there. Measured at batch 1 only; it serves batches up to 8.
constexpr int64_t kGemvBulkMaxBytes = 96 * 1024;
bool gemv_bulk_enabled();
void set_gemv_bulk(bool on);

// The decode GEMVs' ring build (gemv_ring.cuh): the bulk build's copies through a ring of 2-4
// shared-memory stages in a grid of resident blocks (each takes every gridDim-th set of row groups,
// ~32 KB of W, keeping its stages in flight), its first stages issued before pdl_wait; with the
// add + RMSNorm prologue too (GQA_FUSED_NORM: each block normalises x once). Serves a shape where
// two stages and the normalised rows fit 160 KB of shared memory (the 70B T=8 shard's GEMVs at
// batch 1 and 2). Opt-in until measured: GQA_GEMV_RING=1 or set_gemv_ring(true); GemvTuning::ring
// forces it. Its tests and gqa-generate pass on an H200 since run 8; slower than the bulk build there
// (run 13: 6.42 against 5.88 ms a step at 8K batch 1, bench/results/NVIDIA-H200-20261127-084136-decode.md).
bool gemv_ring_enabled();
void set_gemv_ring(bool on);
GemvTuning gemv_tuning();
void set_gemv_tuning(const GemvTuning& t);

// Sets the tuning for a scope; the previous one is back however the scope ends.
class ScopedGemvTuning : public ScopedSetting<GemvTuning, const GemvTuning&> {
 public:
  explicit ScopedGemvTuning(const GemvTuning& t) : ScopedSetting(gemv_tuning, set_gemv_tuning, t) {}
};

bool fused_swiglu_enabled();
void set_fused_swiglu(bool on);
bool gemv_swiglu_supported(const Tensor& x, const Tensor& w, const Tensor& act);
// norm: the add + RMSNorm prologue below, or null.
void gemv_swiglu(const Tensor& x, const Tensor& w, const Tensor& act, cudaStream_t stream,
                 const AddRmsNormArgs* norm = nullptr);

// The add + RMSNorm before a decode GEMV applied by the GEMV itself as it starts (the SwiGLU and
// RoPE GEMVs; CudaOps::add_rmsnorm_matmul_*), so the norm has no kernel of its own: every block
// (the ring build: every resident block) first computes the normalised rows of x into shared
// memory from norm.x, norm.residual and norm.weight with rmsnorm.cu's rounding (gemv_kernel.cuh,
// norm_prologue), then runs the GEMV on them; block 0 writes norm.x_out (x + residual), and
// norm.out, the unfused path's x, is never written. Costs each block 3 * k * sizeof(T) bytes of L2
// reads per row and two block barriers before its first FMA. Runs in the per-thread build (never
// the bulk build) or, where asked for and it serves, the ring build. Opt-in: GQA_FUSED_NORM=1 or
// set_fused_norm(true). An inline build in the bulk GEMVs (nineteenth session) was measured slower
// on an H200 in run 13 (the 70B shard's step at 8K batch 1: 6.97 ms against 6.16 with this
// prologue and 5.81 with no fusion; bench/results/NVIDIA-H200-20261127-084136-decode.md) and removed.
constexpr int kGemvNormMaxRows = 4;
constexpr int64_t kGemvNormMaxBytes = 64 * 1024;  // n * k * sizeof(T): the rows in shared memory
bool fused_norm_enabled();
void set_fused_norm(bool on);
// Whether norm can be the prologue of a decode GEMV whose input is x [n, k]: norm.out is x (same
// data, shape and dtype), norm.x [n, k] and norm.residual (or undefined) device tensors of x's
// dtype, norm.weight [k], norm.x_out defined exactly when the residual is ([n, k], overlapping none
// of norm.x, residual and weight), the data of x, residual and x_out 16-byte aligned, n <=
// kGemvNormMaxRows and n * k * sizeof(T) <= kGemvNormMaxBytes. Never throws.
bool gemv_norm_supported(const AddRmsNormArgs& norm, const Tensor& x);
// The whole call the prologue would serve: gemv_norm_supported(norm, x), and nothing one block
// writes is read by another, in any order the blocks run: norm.x_out (block 0 writes it) overlaps
// none of norm.out (x), w and `inputs` (what the GEMV's epilogue reads: bias, slots, positions,
// inv_freq), and none of `outputs` (every block writes them) overlaps norm.x, residual, weight or
// x_out. CudaOps dispatches on it (an unserved call takes the unfused path); never throws.
// W (and the bulk build's rows) is read before pdl_wait (pdl.cuh): it must not be written by the
// kernel the GEMV's launch overlaps, as no weight of a decode step is.
bool gemv_norm_serves(const AddRmsNormArgs& norm, const Tensor& x, const Tensor& w, const std::vector<Tensor>& outputs,
                      const std::vector<Tensor>& inputs);
// Throws gqa::Error naming `op` unless gemv_norm_serves(norm, x, w, outputs, inputs).
void check_gemv_norm_call(const char* op, const AddRmsNormArgs& norm, const Tensor& x, const Tensor& w,
                          const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs);

}  // namespace gqa::cuda
