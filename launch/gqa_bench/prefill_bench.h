// The prefill section of gqa-bench: one sequence of P prompt tokens through Model::forward in
// chunks of --prefill-chunk tokens (each chunk attends causally to the cache so far), for the
// 70B T=8 shard; time and TFLOP/s of the whole prefill, and of its attention alone (one layer,
// all chunks, timed with CUDA events) against the measured GEMM rate.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "launch/gqa_bench/bench_env.h"
#include "runtime/kv_cache.h"
#include "runtime/kv_page_size.h"
#include "model/model.h"

namespace gqa::bench {

// Tokens per KV-cache page in the prefill sections: the default (the page-size table times others too).
constexpr int64_t kPrefillBlockSize = kDefaultKvBlockSize;
// Prompts up to this many tokens have their attention timed 11 times (median), longer ones 3.
constexpr int64_t kPrefillManyRunsTokens = 32768;

// FLOPs of a causal prefill of P tokens: the GEMMs (2 per weight per token; the LM head for the
// last row only) plus attention, where token t attends to t + 1 keys: 4 * hd FLOPs per
// (query head, key) pair (QK^T and PV), 2 * hq * hd * P * (P + 1) per layer.
double prefill_gemm_flops(const ModelConfig& c, int64_t p);
double prefill_attention_flops_per_layer(const ModelConfig& c, int64_t p);

void bench_prefill(BenchEnv& env, Model& model, double seconds);

// Shared with the by-build tables (prefill_builds.h):
// whether GQA_BENCH_SKIP_WGMMA names this wgmma build (or "ablation");
bool wgmma_build_skipped(const std::string& build);
// layer 0's causal attention over `cache` chunk by chunk as a prefill of p tokens runs it (chunks
// of `chunk` tokens; 0: --prefill-chunk), CUDA events, median of 11 (3 past kPrefillManyRunsTokens) (each call through `attend`
// when given, else the Ops' attention);
double time_prefill_attention(BenchEnv& env, const ModelConfig& c, const PagedKvCache& cache, int64_t p,
                              const std::function<void(const AttentionArgs&)>& attend = {}, int64_t chunk = 0);
// a one-layer cache holding one sequence of p tokens on pages of bs, random K/V.
PagedKvCache one_layer_cache(BenchEnv& env, Model& model, int64_t p, int64_t bs, uint32_t seed);

}  // namespace gqa::bench
