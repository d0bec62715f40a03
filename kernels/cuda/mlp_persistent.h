// The MLP half of a decode layer as one persistent kernel: add + RMSNorm, the gate/up GEMV with its
// SwiGLU epilogue, and the down GEMV, where the default runs three kernels (add_rmsnorm, gemv_swiglu,
// gemv). Opt-in (GQA_MLP_PERSISTENT=1 or set_mlp_persistent(true)); written in the twenty-first
// session, unrun on a GPU. Step 2 of docs/persistent-decode.md's plan (its first kernel): whether removing two
// kernel boundaries a layer (the drain of one grid's weight stream and the ramp of the next's) pays.
//
// One block per SM, resident for the whole call (a grid no larger than what fits at once: its
// blocks wait for each other once, so all must run together). Each block (mlp_persistent.cu):
//   1. issues the bulk copies of its first units of W (the gate/up phase's, then the down phase's)
//      into a ring of shared-memory stages (gemv_ring.cuh's scheme), before pdl_wait;
//   2. normalises x + residual into shared memory (gemv_kernel.cuh's norm_prologue: rmsnorm.cu's
//      rounding; block 0 writes x_out);
//   3. computes its units of [gate; up] (every gridDim-th, as the ring build), storing act through
//      the SwiGLU epilogue, refilling each stage as it frees: past its last gate/up unit it is
//      already copying its first down units;
//   4. waits at one grid barrier (a counter and a generation word in global memory, released and
//      acquired at GPU scope; it resets itself, so graph replays need no memset) until every
//      block's act is stored;
//   5. reads act into shared memory and computes its units of the down projection into y.
// The weight stream never drains between the two GEMVs: the down phase's W is in flight while the
// gate/up phase ends and the barrier is passed.
//
// One call at a time per device (the barrier words are one per device: calls on two streams at
// once would share them); the decode step's stream is one.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/cuda_check.h"
#include "kernels/ops.h"

namespace gqa::cuda {

constexpr int kMlpPersistentMaxRows = 2;  // decode batches it serves (the GEMVs' 2-row tile)

bool mlp_persistent_enabled();
void set_mlp_persistent(bool on);

// Whether the kernel serves Ops::add_rmsnorm_mlp(norm, gate_up, act, down) on this device: n rows
// (1 <= n <= kMlpPersistentMaxRows) of hidden k; gate_up: x = norm.out [n, k], w [2f, k] (gate
// over up), no bias, y unused; act [n, f]; down: x = act, w [k_out, f], no bias, y [n, k_out]; one
// dtype (bf16 or f16); k and f multiples of 8; norm as gemv_norm_serves (norm.x_out defined with a
// residual); act apart from every other tensor; down.y may be norm.residual / norm.out (the model's
// h: every read of it comes before the barrier, every write after) but overlaps nothing else; the
// shared-memory plan fits (mlp_persistent_plan.h). Needs a device (asks for its limits); throws
// only where one of those CUDA queries fails.
bool mlp_persistent_serves(const AddRmsNormArgs& norm, const MatmulArgs& gate_up, const Tensor& act,
                           const MatmulArgs& down);

// The call above where mlp_persistent_serves (true), else false and nothing launched: one check a
// call for a dispatcher (CudaOps::add_rmsnorm_mlp). norm.out is not written (the normalised rows
// stay in each block's shared memory); gate_up.y is not written.
bool try_mlp_persistent(const AddRmsNormArgs& norm, const MatmulArgs& gate_up, const Tensor& act,
                        const MatmulArgs& down, cudaStream_t stream);

// try_mlp_persistent, throwing gqa::Error (naming the operands) where the kernel does not serve.
void mlp_persistent(const AddRmsNormArgs& norm, const MatmulArgs& gate_up, const Tensor& act, const MatmulArgs& down,
                    cudaStream_t stream);

// How many launches mlp_persistent has made in this process (a graph's capture counts once, its
// replays not at all): tests check the model took the kernel, not the unfused calls.
int64_t mlp_persistent_launches();

// For tests: the kernel's last block waits `ns` nanoseconds before it reads anything (0, the
// default: no wait), so that every other block reaches the grid barrier, and would read act and
// write y, long before it; a barrier that let them through early fails the test every time
// instead of by chance. Applies to launches made after the call.
void set_mlp_persistent_late_block_ns(int64_t ns);

}  // namespace gqa::cuda
