// Per-op timings of one decode step: each op the Model calls, called through the same Ops
// interface (CudaOps) with the step's shapes, on layer i % layers of the real weights and cache
// for run i, with the L2 flushed before every timed call. The L2 flush makes each number the
// cold-cache cost the op has inside a real step, where ~2 GB of weights stream through the L2
// between two uses of the same tensor; without it the small per-layer tensors (21 MB of QKV
// weights, 0.5 MB of K/V per layer at 1K) would be timed out of the 50 MB L2.
#pragma once

#include <string>
#include <vector>

#include "launch/gqa_bench/bench_env.h"
#include "launch/gqa_bench/decode_fixture.h"
#include "model/weights.h"

namespace gqa::bench {

struct OpTiming {
  std::string name;
  int64_t per_step = 0;  // calls in one decode step of the whole model
  double us = 0;         // median device time of one call
  double bytes = 0;      // the fewest bytes one call must move (weights + KV read, activations)
  double flops = 0;
  bool weight_gemm = false;  // one weight GEMM alone (unfused; the LM head too): the stream fit's rows
};

// The ops of one decode step, each timed alone. opt_in: only the rows of the fused GEMVs
// (kernels/cuda/gemv.h, gemv_rope.h: the default step's, at batch <= 8), timed in a pass of their
// own after every other measurement; else every other op (the unfused pairs among them).
std::vector<OpTiming> time_decode_ops(BenchEnv& env, const ModelConfig& c, const ModelWeights& w,
                                      const DecodeFixture& fx, bool opt_in = false);

// The step's GEMVs as the default step runs them, each timed alone: QKV (+ RoPE + KV write, fused
// at batch <= 8), O, gate/up (+ SwiGLU, fused at batch <= 8), down, LM head.
std::vector<OpTiming> time_decode_gemvs(BenchEnv& env, const ModelConfig& c, const ModelWeights& w,
                                        const DecodeFixture& fx);

}  // namespace gqa::bench
