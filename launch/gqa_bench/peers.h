// Peers measured in the same run, through the python scripts in launch/bench_peers/ (they need
// PyTorch; without it they report themselves skipped and so does this section):
//   - PyTorch scaled_dot_product_attention(enable_gqa=True) on the decode attention shapes of
//     the 70B T=8 shard, timed the way our attention op is (spin, L2 flush, CUDA events, median);
//   - a Llama-3-8B-shaped model at T=1, gqa against HF transformers (static cache, eager and
//     torch.compile) on the same random weights: decode tokens/s at batch 1.
#pragma once

#include <vector>

#include "launch/gqa_bench/bench_env.h"
#include "launch/gqa_bench/decode_bench.h"
#include "launch/gqa_bench/python_run.h"

namespace gqa::bench {

// Our decode attention (from the decode section's per-op rows) against SDPA.
void bench_sdpa(BenchEnv& env, const std::vector<DecodeCaseResult>& ours, double seconds);

}  // namespace gqa::bench
