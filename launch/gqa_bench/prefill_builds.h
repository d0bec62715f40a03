// gqa-bench's prefill attention by kernel build: layer 0's attention of each prompt through
// mma.sync and every wgmma build, the producer build (the default until run 9) and the TMA build
// (the default in runs 9-11; its overlap variant since) with parts of their work left out
// (attention_prefill_wgmma_ablation.h: which part bounds each), and the producer, swizzle and TMA
// builds and the default (TMA overlap) on 16- to 256-token pages at the longest prompt. In passes
// with other sections between them (main.cpp): first every build (each verified on an H200 since
// run 11), then the producer build's ablation, and last of the whole run the TMA build's ablation
// (its variants' rows last): a kernel that traps poisons the process's CUDA context for everything
// after it. A build no GPU has run yet belongs after them all. Each table is saved as it fills.
#pragma once

#include <memory>

#include "launch/gqa_bench/bench_env.h"
#include "model/model.h"

namespace gqa::bench {

class PrefillByBuild {
 public:
  PrefillByBuild();
  ~PrefillByBuild();
  PrefillByBuild(const PrefillByBuild&) = delete;
  PrefillByBuild& operator=(const PrefillByBuild&) = delete;

  void verified(BenchEnv& env, Model& model, double seconds);
  // The producer build's ablation. Throws (after saving its tables) when a prompt failed.
  void producer_ablation(BenchEnv& env, Model& model, double seconds);
  // The TMA build's ablation (the last section of a run). Throws as producer_ablation.
  void tma_ablation(BenchEnv& env, Model& model, double seconds);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace gqa::bench
