// --model-8b: a Llama-3-8B-shaped model at T=1, gqa against HF transformers on the same weights.
//
// The weights are shared through an ordinary checkpoint: unless --model DIR names one,
// launch/bench_peers/hf_decode_bench.py writes random bf16 weights (seeded) as a sharded
// safetensors checkpoint with config.json and prompt.json (the 1K-token prompt) to
// --checkpoint-dir; gqa loads it through the normal path (Checkpoint + load_weights) and runs the
// Generator (greedy, the prompt, then --new-tokens tokens); with --peers the same script then
// runs HF transformers on the same directory. Decode tokens/s = (new tokens - 1) / the time
// from the first generated token to the last, on both sides.
#pragma once

#include "launch/gqa_bench/bench_env.h"

namespace gqa::bench {

void bench_model_8b(BenchEnv& env, double seconds);

}  // namespace gqa::bench
