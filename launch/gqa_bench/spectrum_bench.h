// --spectrum: the MHA / GQA / MQA trade-off on real hardware. Three models of Llama-3-70B's size
// (64 query heads, hidden 8192, 80 layers) that differ only in KV heads: 64 (MHA), 8 (GQA-8,
// Llama-3-70B itself) and 1 (MQA), each as one rank's shard at T=8: decode step time at
// each (context, batch) of the spectrum and KV bytes per token, per rank and for the whole model.
#pragma once

#include "launch/gqa_bench/bench_env.h"
#include "model/model.h"

namespace gqa::bench {

// gqa_model: the GQA-8 shard the decode section built (reused, not rebuilt).
void bench_spectrum(BenchEnv& env, Model& gqa_model, double seconds);

}  // namespace gqa::bench
