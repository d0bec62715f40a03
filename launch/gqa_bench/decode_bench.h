// The decode section of gqa-bench: per-op timings and the whole decode step of the 70B T=8
// shard at each (context, batch), against the ceilings; the step's memory floor; and the
// summary and 8-GPU projection printed at the end of the report.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "launch/gqa_bench/bench_env.h"
#include "launch/gqa_bench/decode_fixture.h"
#include "launch/gqa_bench/decode_ops.h"
#include "model/model.h"

namespace gqa::bench {

// One op label's share of the decode step run op by op with an event after each op (TimedOps).
struct InStepOp {
  std::string name;
  double calls_per_step = 0;
  double us_per_step = 0;
};

// One step of the choices pass: its median ms (NaN: not timed), the kernels its graph launches per
// layer, and what stands instead of a time ("n/a: ...", "FAILED: ...", "skipped: ...").
struct ChoiceStep {
  double ms = NAN;
  double first_ms = NAN, last_ms = NAN;  // the first and last of the timed steps (drift within the median)
  double kernels_per_layer = NAN;
  std::string note;
};

struct DecodeCaseResult {
  int64_t context = 0;
  int64_t batch = 0;
  std::vector<OpTiming> ops;    // empty when skipped
  double step_ms = NAN;         // median wall time of Model::forward, PDL off (NaN: not run)
  double step_pdl_ms = NAN;     // the same with programmatic dependent launch on (kernels/cuda/pdl.cuh)
  // The pass of the other kernel choices (decode_choices.h, after every default measurement of
  // the run): the fused GEMVs' per-op rows, the default step again on that pass's fixture, one
  // step per choice in kChoices' order, and the default step once more after them (default_last:
  // whether the first of the pass's steps was slower for being first).
  std::vector<OpTiming> opt_in_ops;
  ChoiceStep default_again, default_last;
  std::vector<ChoiceStep> choices;
  std::string opt_in_note;
  // The default step with kinds of op left out (skip_ops.h), in kStepAblations' order: the masks
  // timed before the deadline (or a failure, step_skip_note) cut the list short.
  std::vector<double> step_skip_ms;
  std::string step_skip_note;
  std::vector<InStepOp> in_step;  // the step op by op (empty: not run)
  // The step as gqa runs it by default (PDL on), or PDL off where the PDL run did not happen.
  double step_default_ms() const { return step_pdl_ms == step_pdl_ms ? step_pdl_ms : step_ms; }
  double weight_bytes = 0;      // what the step must read: weights (all but B embedding rows) ...
  double kv_bytes = 0;          // ... and every sequence's K/V in every layer
  std::string note;
  double floor_ms(const Ceilings& c) const { return 1e3 * (weight_bytes + kv_bytes) / c.copy_bw; }
  // The choices pass's step with the fused GEMVs off (NaN: not timed, or where they do not serve).
  double step_unfused_ms() const;
  const OpTiming* op(const std::string& name) const;
};

// Drops the recorded graphs at both ends of a scope: the steps in it re-record with its switches.
struct FreshGraphs {
  Ops& ops;
  explicit FreshGraphs(Ops& o) : ops(o) { ops.clear_graphs(); }
  ~FreshGraphs() { ops.clear_graphs(); }
};

// Median wall-clock ms of Model::forward on fx.step (a step ends with its logits on the host, so
// the host clock sees all of it, launch gaps and allocations included): `warmups` warm-up steps
// (a caller that ran them already passes 0), then up to `runs` timed ones, at least 5 even past
// the deadline.
// profile_range: the timed steps run inside cudaProfilerStart/Stop (what nsys captures).
// samples: when given, every timed step's ms in order.
double time_decode_step(BenchEnv& env, Model& model, DecodeFixture& fx, int runs, const Deadline& deadline,
                        bool profile_range = false, int warmups = 2, std::vector<double>* samples = nullptr);

// Every (context, batch) of env.opt within `seconds`, appended to `out` as each finishes (a case
// that throws is recorded with its error and the next one runs).
void bench_decode(BenchEnv& env, Model& model, const ModelWeights& w, double seconds,
                  std::vector<DecodeCaseResult>& out);

// The step summary and the 70B-on-8-GPUs projection (the report's last tables).
void report_decode_summary(BenchEnv& env, const std::vector<DecodeCaseResult>& cases);

}  // namespace gqa::bench
