#include "launch/gqa_bench/decode_choices.h"

#include <cmath>
#include <cstdlib>
#include <deque>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/gemv_rope.h"
#include "kernels/cuda/graph_cache.h"
#include "kernels/cuda/l2_prefetch.h"
#include "kernels/cuda/mlp_persistent.h"
#include "kernels/cuda/pdl.h"
#include "launch/gqa_bench/gemv_sweep.h"

namespace gqa::bench {
namespace {

// A kernel's process-wide switch (kernels/cuda): how to read it and set it, and the value to set.
struct Switch {
  bool (*get)();
  void (*set)(bool);
  bool on = true;
};

// One column of the table: the switches its step runs with, and whether they choose kernels (a
// step whose graph launches the default's kernels is then "n/a": the switch does not serve that
// shape). The decode attention's K/V prefetch is a flag of the same kernel: always timed.
struct Choice {
  const char* name;
  std::vector<Switch> switches;
  bool kernel_choice = true;
};

// The choices, each verified on an H200 (runs 3-17; the persistent MLP first in run 15). The
// "no K/V prefetch" column runs the default from before the twenty-ninth session (the default
// path of every run up to 15); "one-wave fused merge" the default of run 17's first report
// (slower in the step there: an opt-in since).
const std::vector<Choice>& choice_list() {
  const Switch ring{cuda::gemv_ring_enabled, cuda::set_gemv_ring};
  const Switch norm{cuda::fused_norm_enabled, cuda::set_fused_norm};
  const Switch merge{cuda::decode_fused_merge_enabled, cuda::set_decode_fused_merge};
  static const std::vector<Choice> list = {
      {"unfused GEMVs",
       {{cuda::fused_swiglu_enabled, cuda::set_fused_swiglu, false}, {cuda::fused_rope_enabled, cuda::set_fused_rope, false}}},
      {"per-row copies", {{cuda::decode_group_copies_enabled, cuda::set_decode_group_copies, false}}},
      {"one-wave fused merge", {{cuda::decode_one_wave_fused_enabled, cuda::set_decode_one_wave_fused}}},
      {"cluster", {{cuda::decode_cluster_enabled, cuda::set_decode_cluster}}},
      {"L2 prefetch", {{cuda::l2_prefetch_enabled, cuda::set_l2_prefetch}}},
      {"no K/V prefetch", {{cuda::decode_kv_prefetch_enabled, cuda::set_decode_kv_prefetch, false}}, false},
      {"norm prologue", {norm}},
      {"fused merge", {merge}},
      {"norm prologue + fused merge", {norm, merge}},
      {"ring GEMVs", {ring}},
      {"ring + norm prologue", {ring, norm}},
      {"PDL trigger after the wait", {{cuda::pdl_early_enabled, cuda::set_pdl_early, false}}},
      {"ring + norm prologue + fused merge", {ring, norm, merge}},
      {"persistent MLP", {{cuda::mlp_persistent_enabled, cuda::set_mlp_persistent}}},
  };
  return list;
}

constexpr const char* kUnfused = "unfused GEMVs";

// Whether GQA_BENCH_SKIP_CHOICES (choice names, comma-separated, e.g. "persistent MLP") names this
// choice: a kernel whose test failed in the same run would trap and take the rest of the run down.
bool choice_skipped(const std::string& name) {
  const char* env = std::getenv("GQA_BENCH_SKIP_CHOICES");
  if (env == nullptr) return false;
  const std::string list = std::string(",") + env + ",";
  return list.find("," + name + ",") != std::string::npos;
}

// The step (PDL on, graphs recorded afresh) with `switches` set; the previous settings are back
// however this ends. Its graph's shape goes to *shape; with `like` (the default step's shape) a
// graph of the same kernels is "n/a" and not timed.
ChoiceStep time_choice(BenchEnv& env, Model& model, DecodeFixture& fx, const Deadline& deadline,
                       const std::vector<Switch>& switches, const cuda::GraphShape* like, cuda::GraphShape* shape) {
  const cuda::ScopedSwitch pdl(cuda::pdl_enabled, cuda::set_pdl, true);
  std::deque<cuda::ScopedSwitch> set;
  for (const Switch& x : switches) set.emplace_back(x.get, x.set, x.on);
  const FreshGraphs fresh(env.ops);
  for (int i = 0; i < 2; ++i) model.forward(fx.step, *fx.cache);  // the direct warm-up, then the recording
  const cuda::GraphShape s = env.ops.recorded_graphs();
  if (shape != nullptr) *shape = s;
  ChoiceStep out;
  if (s.kernels > 0) out.kernels_per_layer = double(s.kernels) / double(env.opt.layers);
  if (like != nullptr && s.kernels > 0 && s.unnamed == 0 && like->unnamed == 0 && s.kernels == like->kernels &&
      s.fingerprint == like->fingerprint) {
    out.note = "n/a";
    return out;
  }
  std::vector<double> samples;
  out.ms = time_decode_step(env, model, fx, env.opt.step_runs, deadline, /*profile_range=*/false, /*warmups=*/0, &samples);
  if (!samples.empty()) {
    out.first_ms = samples.front();
    out.last_ms = samples.back();
  }
  return out;
}

// One case: the fused GEMVs' per-op rows, the default step again (its graph's shape: what "n/a"
// is judged against), the choices and the default step once more. A choice that throws is recorded
// in its cell and the next one runs (after a trap each fails, each saying so); what stands in the
// case's cells when it cannot time them goes to its note.
void run_case(BenchEnv& env, Model& model, const ModelWeights& w, DecodeCaseResult& r, const Deadline& deadline,
              int& failed) {
  r.choices.resize(choice_list().size());
  std::optional<DecodeFixture> fx;
  try {
    fx.emplace(make_decode_fixture(env, model, r.context, r.batch, static_cast<uint32_t>(1000 + r.context + r.batch)));
  } catch (const std::exception& e) {
    r.opt_in_note = std::string("FAILED: ") + e.what();
    progress(strf("decode choices at %s batch %lld: %s", tokens_str(r.context).c_str(), (long long)r.batch, e.what()));
    ++failed;
    return;
  }
  if (!fx->cache) {
    r.opt_in_note = fx->note;
    return;
  }
  try {  // (the per-op rows of the fused GEMVs: their failure must not cost the steps below)
    r.opt_in_ops = time_decode_ops(env, model.config(), w, *fx, /*opt_in=*/true);
  } catch (const std::exception& e) {
    progress(strf("decode choices, fused GEMVs' per-op rows at %s batch %lld: %s", tokens_str(r.context).c_str(),
                  (long long)r.batch, e.what()));
    ++failed;
  }
  if (!fx->full()) {
    r.opt_in_note = fx->note;
    return;
  }
  const auto guarded = [&](const char* name, const std::vector<Switch>& switches, const cuda::GraphShape* like,
                           cuda::GraphShape* shape) {
    ChoiceStep s;
    if (deadline.passed()) {
      s.note = "skipped (time budget)";
      return s;
    }
    if (choice_skipped(name)) {
      s.note = "skipped (GQA_BENCH_SKIP_CHOICES)";
      return s;
    }
    try {
      s = time_choice(env, model, *fx, deadline, switches, like, shape);
    } catch (const std::exception& e) {
      s = ChoiceStep{};
      s.note = std::string("FAILED: ") + e.what();
      progress(strf("decode choice '%s' at %s batch %lld: %s", name, tokens_str(r.context).c_str(),
                    (long long)r.batch, s.note.c_str()));
      ++failed;
    }
    return s;
  };
  cuda::GraphShape def;
  r.default_again = guarded("default", {}, nullptr, &def);
  for (size_t i = 0; i < choice_list().size(); ++i) {
    const Choice& c = choice_list()[i];
    r.choices[i] = guarded(c.name, c.switches, c.kernel_choice && def.kernels > 0 ? &def : nullptr, nullptr);
  }
  // (runs 6 and 8: the pass's first step at 8K batch 1, the default, 7.35 ms, against 6.07-6.27 in the
  // decode section and ~6.0-6.3 for every choice after it on the same fixture)
  r.default_last = guarded("default, last", {}, nullptr, nullptr);
}

// spread: the first and last timed steps after the median (the default's cells, which say whether
// the steps drifted while they were timed).
std::string cell(const ChoiceStep& s, bool spread = false) {
  const std::string k = std::isfinite(s.kernels_per_layer) ? strf(" [%.1f]", s.kernels_per_layer) : "";
  if (std::isfinite(s.ms)) {
    const std::string d = spread && std::isfinite(s.first_ms) ? strf(" (%.2f..%.2f)", s.first_ms, s.last_ms) : "";
    return strf("%.2f", s.ms) + d + k;
  }
  return (s.note.empty() ? std::string("-") : s.note) + k;
}

std::string us_of(const std::vector<OpTiming>& ops, const std::string& name) {
  for (const OpTiming& o : ops) {
    if (o.name == name) return strf("%.1f", o.us);
  }
  return "-";
}

Table choices_table(const std::vector<DecodeCaseResult>& cases) {
  std::vector<std::string> header = {"context", "batch", "fused QKV+RoPE us", "unfused QKV + rope us",
                                     "fused gate/up+SwiGLU us", "unfused gate/up + swiglu us", "default step ms",
                                     "default again ms", "default last ms"};
  for (const Choice& c : choice_list()) header.push_back(std::string(c.name) + " ms");
  Table t(header);
  for (const DecodeCaseResult& r : cases) {
    if (r.ops.empty()) continue;
    std::vector<std::string> row = {tokens_str(r.context), strf("%lld", (long long)r.batch)};
    if (r.opt_in_ops.empty() && r.choices.empty()) {
      row.push_back(r.opt_in_note.empty() ? "not reached" : r.opt_in_note);
      t.row(row);
      continue;
    }
    const auto sum_us = [&](const char* a, const char* b) {
      const OpTiming* x = r.op(a);
      const OpTiming* y = r.op(b);
      return x && y ? strf("%.1f", x->us + y->us) : std::string("-");
    };
    row.push_back(us_of(r.opt_in_ops, "QKV GEMM + RoPE + KV write (fused)"));
    row.push_back(sum_us("QKV GEMM (stacked)", "rope + kv_write (fused, packed qkv)"));
    row.push_back(us_of(r.opt_in_ops, "gate/up GEMM + SwiGLU (fused)"));
    row.push_back(sum_us("gate/up GEMM (stacked)", "swiglu"));
    const double d = r.step_default_ms();
    row.push_back(std::isfinite(d) ? strf("%.2f", d) : "-");
    row.push_back(r.opt_in_note.empty() ? cell(r.default_again, /*spread=*/true) : r.opt_in_note);
    row.push_back(r.opt_in_note.empty() ? cell(r.default_last, /*spread=*/true) : "-");
    for (size_t i = 0; i < choice_list().size(); ++i) row.push_back(i < r.choices.size() ? cell(r.choices[i]) : "-");
    t.row(row);
  }
  return t;
}

}  // namespace

double DecodeCaseResult::step_unfused_ms() const {
  for (size_t i = 0; i < choice_list().size() && i < this->choices.size(); ++i) {
    if (std::string(choice_list()[i].name) == kUnfused) return this->choices[i].ms;
  }
  return NAN;
}

void bench_decode_choices(BenchEnv& env, Model& model, const ModelWeights& w, std::vector<DecodeCaseResult>& cases,
                          double seconds) {
  const Deadline deadline(seconds);
  env.report.heading("Decode with the other kernel choices");
  env.report.line(
      "Per op, as in the decode section: the fused QKV + RoPE + KV-write GEMV (GQA_FUSED_ROPE) and the fused gate/up + "
      "SwiGLU GEMV (GQA_FUSED_SWIGLU), the default at batch <= 8, against the unfused pairs of the decode section's "
      "rows. Whole steps (PDL on, graphs recorded afresh, wall clock, median of up to " +
      std::to_string(env.opt.step_runs) +
      ") on one fixture per case: the default step again ('default again': the column the others compare with; "
      "'default step' is the decode section's, on another fixture; 'default last': the same once more after every "
      "choice, so the first step of the pass is not the only baseline; both with their first and last timed steps "
      "in parentheses, first..last), then with: the fused GEMVs off (GQA_FUSED_*=0); the "
      "decode attention's K/V copies one per row instead of one per 8 keys' rows (GQA_DECODE_GROUP_COPIES=0); one "
      "block per SM merging in its last blocks instead of its occupancy plan and merge kernel "
      "(GQA_DECODE_ONE_WAVE_FUSED=1; serves batch 16 here, not batch 1; the default in the twenty-ninth to "
      "thirty-first sessions, slower in the step in run 17); its "
      "cluster reduction (GQA_DECODE_CLUSTER); the L2 prefetch of the O and gate/up weights during the attention "
      "(GQA_L2_PREFETCH); the attention without its L2 prefetch of its first K/V stages while it waits "
      "(GQA_DECODE_KV_PREFETCH=0; the prefetch is the default since the twenty-ninth session); "
      "the add + RMSNorm as the QKV and gate/up GEMVs' prologue (GQA_FUSED_NORM: the per-thread GEMV build with the "
      "prologue; serves batch <= 4); the split merge "
      "in the attention's last block (GQA_DECODE_FUSED_MERGE: at the occupancy plan's split count; serves plans "
      "of <= 32 splits, not a batch-1 step's 128-256); both; the GEMVs' ring build (GQA_GEMV_RING; batch <= 2); "
      "that with the norm prologue; the merge and "
      "the RMSNorms letting their successor launch only after their wait (GQA_PDL_EARLY=0; the early trigger is the "
      "default since run 8); the ring build, the norm prologue and the fused merge "
      "together (the fewest kernels a layer where all three serve); the MLP half (add + RMSNorm, gate/up + SwiGLU, "
      "down) as one persistent kernel (GQA_MLP_PERSISTENT; batch <= 2: one block per SM, the weights of both GEMVs "
      "through one ring of shared-memory stages, one grid barrier between them). A choice named in "
      "GQA_BENCH_SKIP_CHOICES (comma-separated names) is not timed. [k]: kernels per layer in the step's graph "
      "(kernel nodes / layers, the step's few others included), read from the recorded graph, so each cell says "
      "what it ran; 'n/a': the switch left the step's kernels as the default's (it does not serve this shape; "
      "said only where the runtime named every kernel node of both graphs), not timed.");
  const size_t slot = env.report.slot();
  int failed = 0;
  for (DecodeCaseResult& r : cases) {
    if (r.ops.empty()) continue;
    if (deadline.passed()) {
      r.opt_in_note = "skipped: this section's time budget ran out";
    } else {
      progress(strf("decode choices: context %s, batch %lld", tokens_str(r.context).c_str(), (long long)r.batch));
      try {
        run_case(env, model, w, r, deadline, failed);
      } catch (const std::exception& e) {  // (run_case records its own failures; this is a last guard)
        r.opt_in_note = std::string("FAILED: ") + e.what();
        progress(r.opt_in_note);
        ++failed;
      }
    }
    env.report.fill(slot, [&](Report& out) { out.table(choices_table(cases)); });
    env.report.save();  // (after each case: a kill keeps the rows so far)
  }
  env.report.fill(slot, [&](Report& out) { out.table(choices_table(cases)); });
  try {
    report_gemv_sweep(env, model, w, cases, deadline, /*ring=*/false);
  } catch (const std::exception& e) {
    env.report.line(std::string("GEMV sweep FAILED: ") + e.what());
    progress(std::string("GEMV sweep FAILED: ") + e.what());
    ++failed;
  }
  env.report.save();
  GQA_CHECK(failed == 0, failed << " decode choice(s) failed (above)");
}

}  // namespace gqa::bench
