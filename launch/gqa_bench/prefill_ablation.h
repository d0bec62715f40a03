// gqa-bench's prefill ablation tables: a wgmma prefill build timed with parts of its work left out,
// per prompt, and what the rows say of the softmax's and the GEMMs' overlap. The by-build section
// (prefill_builds.h) fills one for the producer build and one for the TMA build, in their own passes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "launch/gqa_bench/bench_env.h"
#include "model/config.h"
#include "runtime/kv_cache.h"

namespace gqa::bench {

// The producer build (the default until run 9), or with tma the TMA build (the default in runs 9-11;
// since run 11 its overlap variant, the table's last row),
// with parts of its work left out (attention_prefill_wgmma_ablation.h), per prompt: which part
// bounds that build. Rows: the full build, then each mask the build has (prefill_ablation_applies);
// columns per prompt: ms, the time as a
// fraction of the full build's, and TFLOP/s at the full build's FLOP count where QK and PV both
// still run.
class AblationTable {
 public:
  AblationTable(const std::vector<int64_t>& prompts, bool tma);

  // One prompt's masks, each while the deadline allows ("skipped" after it). A failure is
  // reported in its cell and ends the table (later masks and prompts would run on whatever state
  // it left); it does not fail the section: the by-build rows above are the section's result.
  void time_prompt(BenchEnv& env, const ModelConfig& c, const PagedKvCache& cache, int64_t p,
                   const Deadline& deadline);

  // A prompt the deadline left out: every mask "skipped" (said in the table, not left out of it).
  void skip_prompt(int64_t p);

  void report(Report& out) const;

 private:
  // Whether `skip` is a TMA build variant's mask whose build's test failed in this run
  // (GQA_BENCH_SKIP_WGMMA).
  static bool variant_skipped_by_test(unsigned skip);
  // The time of mask `skip` at prompt p; NaN where it was not timed.
  double ms_of(unsigned skip, int64_t p) const;
  // Per prompt, what the rows say of the softmax's and the GEMMs' overlap (ablation_overlap.h).
  void report_overlap(Report& out) const;

  std::vector<int64_t> prompts_;
  std::vector<unsigned> masks_;
  std::vector<std::map<int64_t, double>> ms_;                       // [mask][prompt] -> ms (timed cells)
  std::vector<std::map<int64_t, std::vector<std::string>>> notes_;  // [mask][prompt] -> an untimed cell's 3 texts
  std::map<int64_t, double> flops_;                                 // [prompt] -> the full attention's FLOPs
  bool tma_ = false;
  bool failed_ = false;
};

}  // namespace gqa::bench
