// The prefill section of gqa-bench: one sequence of P prompt tokens through Model::forward in
// chunks of --prefill-chunk tokens (each chunk attends causally to the cache so far), for the
// 70B T=8 shard; time and TFLOP/s of the whole prefill, and of its attention alone (one layer,
// all chunks, timed with CUDA events) against the measured GEMM rate.
#pragma once

#include "launch/gqa_bench/bench_env.h"
#include "model/model.h"

namespace gqa::bench {

// FLOPs of a causal prefill of P tokens: the GEMMs (2 per weight per token; the LM head for the
// last row only) plus attention, where token t attends to t + 1 keys: 4 * hd FLOPs per
// (query head, key) pair (QK^T and PV), 2 * hq * hd * P * (P + 1) per layer.
double prefill_gemm_flops(const ModelConfig& c, int64_t p);
double prefill_attention_flops_per_layer(const ModelConfig& c, int64_t p);

void bench_prefill(BenchEnv& env, Model& model, double seconds);
// The prefill attention alone through each kernel build (mma.sync and every wgmma build), on
// random K/V, then the default (producer) build with parts of its work left out
// (attention_prefill_wgmma_ablation.h: which part bounds it): run after every other section of
// the shard, so a build failing on a GPU cannot lose their numbers.
void bench_prefill_opt_in(BenchEnv& env, Model& model, double seconds);

}  // namespace gqa::bench
