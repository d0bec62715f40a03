// Peers measured in the same run, through the python scripts in launch/bench_peers/ (they need
// PyTorch; without it they report themselves skipped and so does this section):
//   - PyTorch scaled_dot_product_attention(enable_gqa=True) on the decode attention shapes of
//     the 70B T=8 shard, timed the way our attention op is (spin, L2 flush, CUDA events, median);
//   - a Llama-3-8B-shaped model at T=1, gqa against HF transformers (static cache, eager and
//     torch.compile) on the same random weights: decode tokens/s at batch 1.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "launch/gqa_bench/bench_env.h"
#include "launch/gqa_bench/decode_bench.h"

namespace gqa::bench {

struct PythonRun {
  int exit_code = -1;          // 124: timed out
  double timeout_s = 0;        // the limit it ran under
  std::string tail;            // the last lines of its output (for the report when it failed)
  bool has_result = false;
  nlohmann::json result;       // the object on its "GQA_BENCH_JSON " line
  std::string failure() const; // one line: why there is no usable result
};

// Runs `python script args...` under timeout(1), echoing its output to stderr as progress.
PythonRun run_python(const Options& opt, const std::string& script, const std::vector<std::string>& args,
                     double timeout_s);

// Our decode attention (from the decode section's per-op rows) against SDPA.
void bench_sdpa(BenchEnv& env, const std::vector<DecodeCaseResult>& ours, double seconds);

}  // namespace gqa::bench
