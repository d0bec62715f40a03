// What every gqa-bench section shares: the options, the GPU backend, the timing method, the two
// ceilings measured at the start of the run, and the report.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_ops.h"
#include "launch/gqa_bench/report.h"
#include "launch/gqa_bench/timing.h"
#include "runtime/prefill_chunk.h"

namespace gqa::bench {

struct Options {
  std::vector<int64_t> contexts = {1024, 8192, 32768, 131072};
  std::vector<int64_t> batches = {1, 16};
  std::vector<int64_t> prefill_lengths = {8192, 32768, 131072};
  std::vector<int64_t> spectrum_contexts = {8192, 32768};
  int64_t prefill_chunk = kCudaPrefillChunk;  // prompt tokens per forward step of the prefill
  int64_t layers = 80;           // layers of the 70B shard (fewer for a quick look)
  int runs = 30;                 // timed runs per op (median); >= 20
  int warmup = 5;
  int step_runs = 20;            // timed decode steps per case (median), fewer if the budget runs out
  bool decode = true;
  bool prefill = true;
  bool spectrum = false;
  bool peers = false;            // PyTorch SDPA; with model_8b also HF transformers
  bool model_8b = false;         // the Llama-3-8B-shaped decode comparison
  std::string model_dir;         // --model: an existing checkpoint for the 8B run (else python writes one)
  std::string checkpoint_dir = "/tmp/gqa-bench-8b";
  int64_t peer_layers = 32;      // layers of the 8B shape when python writes the checkpoint
  int64_t prompt_len = 1024;
  int64_t new_tokens = 512;
  double budget_s = 540;         // wall clock for the whole run (sections skip what would not fit)
  double allreduce_us = 15;      // assumed latency of one small all-reduce, for the projection line
  std::string out;               // report path; default <source>/bench/results/<gpu>-<date>.md
  std::string python = "python3";
  std::string peers_dir;         // where sdpa_bench.py and hf_decode_bench.py are
};

struct Ceilings {
  double copy_bw = NAN;     // bytes/s, read + write
  double read_bw = NAN;     // bytes/s, reads alone (informational)
  double read_bulk_bw = NAN;  // bytes/s, reads alone through bulk copies (informational)
  double gemm_flops = NAN;  // FLOP/s, cuBLASLt bf16 8192^3
  double gemm_mhz = NAN;    // SM clock right after the GEMM's timing (sm_clock_mhz)
};

struct BenchEnv {
  const Options& opt;
  cuda::CudaOps& ops;
  cudaStream_t stream;
  TimingOptions timing;
  L2Flush flush;
  Ceilings ceil;
  Report& report;
  Budget& budget;
  // K/V bytes of the decode fixture made last (make_decode_fixture waits for the device to settle
  // after freeing it before the next one is timed); 0 before the first.
  double last_fixture_bytes = 0;
};

// Roofline time in seconds of work moving `bytes` and doing `flops` under the ceilings.
inline double floor_s(const Ceilings& c, double bytes, double flops) {
  return std::max(bytes / c.copy_bw, flops / c.gemm_flops);
}

// "8K", "128K", "1000"
inline std::string tokens_str(int64_t n) { return n % 1024 == 0 ? strf("%lldK", (long long)(n / 1024)) : strf("%lld", (long long)n); }

// Free device memory in bytes.
double free_device_bytes();

// Measures the two ceilings into env.ceil and reports them.
void measure_ceilings(BenchEnv& env);
// The bf16 GEMM ceiling's measurement alone (8192^3 through cuda::Gemm, FLOP/s) and the SM clock
// right after it (sm_clock_mhz), for a section that compares with a GEMM timed in its own state of
// the GPU (clock, temperature) as well.
struct GemmRate {
  double flops, mhz;
};
GemmRate measure_gemm_rate(BenchEnv& env);
// The cost of one dependency between two phases: a kernel boundary (with and without PDL) against
// a counter inside one kernel (boundary_cost.h; the section: boundary_report.cpp). gqa-bench runs it
// last.
void report_boundary_costs(BenchEnv& env);

}  // namespace gqa::bench
