#include "launch/gqa_bench/decode_bench.h"

#include <cuda_profiler_api.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <iterator>
#include <utility>
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/pdl.h"
#include "launch/gqa_bench/line_fit.h"
#include "launch/gqa_bench/random_model.h"
#include "launch/gqa_bench/skip_ops.h"
#include "launch/gqa_bench/timed_ops.h"
#include "parallel/single_communicator.h"

namespace gqa::bench {
namespace {

// Collectives of one decode token in Model::forward at T > 1: two all-reduces per layer (after
// o_proj and down_proj), one after the vocab-parallel embedding, one all-gather of the logits.
int64_t collectives_per_token(int64_t layers) { return 2 * layers + 2; }

std::string pct(double x) { return std::isfinite(x) ? strf("%.0f%%", 100.0 * x) : "-"; }

// The weight GEMMs' rows (each timed alone) fitted to time = F + bytes / B (line_fit.h): the rate
// the weight stream reads at and what each call pays on top; then the default step split the same
// way: its bytes at that rate, and the rest, per layer, as fixed costs.
void report_stream_fit(BenchEnv& env, const DecodeCaseResult& r) {
  std::vector<std::pair<double, double>> points;
  for (const OpTiming& o : r.ops) {
    if (o.weight_gemm) points.emplace_back(o.bytes, o.us);
  }
  const LineFit f = fit_fixed_and_rate(points);
  if (!f.ok) return;
  const double rate = f.rate * 1e6;  // bytes per us -> bytes per s
  const LineFit::Cells c = f.cells_us(env.ceil.copy_bw);
  std::string line = strf("The %d weight GEMMs above (the rows named GEMM, unfused, and the LM head; each timed alone) "
                          "fitted to time = F + bytes / B (least squares): F %s us, B %s GB/s (%s of copy)",
                          f.points, c.fixed_us.c_str(), c.gb_s.c_str(), c.of_copy.c_str());
  line += f.residual_tested() ? ", largest miss " + c.miss + " us." : std::string(".");
  const double step_ms = r.step_default_ms();
  if (std::isfinite(step_ms)) {
    const double stream_ms = 1e3 * (r.weight_bytes + r.kv_bytes) / rate;
    line += strf(" At B the default step's %.0f MB take %.2f ms of its %.2f ms; the other %.2f ms is %.1f us per layer.",
                 (r.weight_bytes + r.kv_bytes) / 1e6, stream_ms, step_ms, step_ms - stream_ms,
                 1e3 * (step_ms - stream_ms) / double(env.opt.layers));
  }
  env.report.line(line);
}

void report_case(BenchEnv& env, const DecodeCaseResult& r) {
  const Ceilings& c = env.ceil;
  env.report.line(strf("**Decode, context %s, batch %lld** (KV %.1f MB per layer%s%s)", tokens_str(r.context).c_str(),
                       (long long)r.batch, r.kv_bytes / env.opt.layers / 1e6, r.note.empty() ? "" : "; ",
                       r.note.c_str()));
  Table t({"op", "calls/step", "us/call", "MB/call", "GFLOP/call", "GB/s", "of copy", "TFLOP/s", "of GEMM",
           "of roofline", "us/step"});
  double sum_us = 0;
  for (const OpTiming& o : r.ops) {
    const double s = o.us * 1e-6;
    sum_us += o.us * o.per_step;
    t.row({o.name, strf("%lld", (long long)o.per_step), strf("%.1f", o.us), strf("%.3f", o.bytes / 1e6),
           o.flops > 0 ? strf("%.3f", o.flops / 1e9) : "-", strf("%.0f", o.bytes / s / 1e9), pct(o.bytes / s / c.copy_bw),
           o.flops > 0 ? strf("%.1f", o.flops / s / 1e12) : "-", o.flops > 0 ? pct(o.flops / s / c.gemm_flops) : "-",
           pct(floor_s(c, o.bytes, o.flops) / s), strf("%.0f", o.us * o.per_step)});
  }
  t.row({"sum of the ops", "", "", "", "", "", "", "", "", "", strf("%.0f", sum_us)});
  if (std::isfinite(r.step_ms)) {
    const double bytes = r.weight_bytes + r.kv_bytes;
    t.row({"whole step, PDL off", "1", strf("%.1f", r.step_ms * 1e3), strf("%.1f", bytes / 1e6), "",
           strf("%.0f", bytes / (r.step_ms * 1e-3) / 1e9), pct(bytes / (r.step_ms * 1e-3) / c.copy_bw), "", "",
           pct(r.floor_ms(c) / r.step_ms), strf("%.0f", r.step_ms * 1e3)});
  }
  const auto step_row = [&](const char* name, double ms) {
    if (!std::isfinite(ms)) return;
    const double bytes = r.weight_bytes + r.kv_bytes;
    t.row({name, "1", strf("%.1f", ms * 1e3), strf("%.1f", bytes / 1e6), "", strf("%.0f", bytes / (ms * 1e-3) / 1e9),
           pct(bytes / (ms * 1e-3) / c.copy_bw), "", "", pct(r.floor_ms(c) / ms), strf("%.0f", ms * 1e3)});
  };
  step_row("whole step, PDL on (default)", r.step_pdl_ms);
  env.report.table(t);
  report_stream_fit(env, r);
  if (!r.in_step.empty()) {
    double sum = 0;
    for (const InStepOp& o : r.in_step) sum += o.us_per_step;
    env.report.line(strf("In the step (op by op, an event after each op, no graph, PDL overlap cut by the events; "
                         "each op's time runs from the previous op's end, so launch gaps count): %.0f us in all, "
                         "against %.0f us for the default step above.",
                         sum, std::isfinite(r.step_default_ms()) ? r.step_default_ms() * 1e3 : NAN));
    Table it({"op", "calls/step", "us/call", "us/step", "of the op-by-op step"});
    for (const InStepOp& o : r.in_step) {
      it.row({o.name, strf("%.0f", o.calls_per_step), strf("%.1f", o.us_per_step / o.calls_per_step),
              strf("%.0f", o.us_per_step), pct(o.us_per_step / sum)});
    }
    env.report.table(it);
  }
}

// The step run op by op through TimedOps (a second Model on the same weights and cache, graphs
// off), `runs` times after 2 warm-ups: each op label's time per step, largest first.
std::vector<InStepOp> time_in_step(BenchEnv& env, Model& model, const ModelWeights& w, DecodeFixture& fx, int runs) {
  TimedOps timed(env.ops);
  SingleCommunicator comm;
  Model m(model.config(), single_rank_plan(model.config()), timed, comm, w);
  m.set_cuda_graphs(false);
  for (int i = 0; i < 2; ++i) m.forward(fx.step, *fx.cache);  // warm-up: marks, but no totals
  for (int i = 0; i < runs; ++i) {
    timed.begin_step();
    m.forward(fx.step, *fx.cache);
    timed.end_step();
  }
  std::vector<InStepOp> out;
  for (const auto& [name, t] : timed.totals()) {
    out.push_back({name, double(t.calls) / timed.steps(), t.us / timed.steps()});
  }
  std::sort(out.begin(), out.end(), [](const InStepOp& a, const InStepOp& b) { return a.us_per_step > b.us_per_step; });
  return out;
}

// The same step with programmatic dependent launch set to `on`; the previous setting is back
// however this ends.
double time_decode_step_with_pdl(BenchEnv& env, Model& model, DecodeFixture& fx, int runs, const Deadline& deadline,
                                 bool on) {
  const cuda::ScopedSwitch pdl(cuda::pdl_enabled, cuda::set_pdl, on);
  const FreshGraphs fresh(env.ops);
  return time_decode_step(env, model, fx, runs, deadline, /*profile_range=*/on);  // the default: PDL on
}

// The default step (PDL and graphs on) with kinds of op left out, per mask (skip_ops.h): what each
// kind costs inside the step, overlaps included. The last mask leaves all three out: the step's
// skeleton (embedding, the graph launch, the logits to the host).
constexpr unsigned kStepAblations[] = {0,
                                       kSkipAttention,
                                       kSkipNorms,
                                       kSkipAttention | kSkipNorms,
                                       kSkipGemvs,
                                       kSkipAttention | kSkipNorms | kSkipGemvs};

// Appends to out as each mask is timed (a failure keeps the masks before it).
void time_step_ablations(BenchEnv& env, Model& model, const ModelWeights& w, DecodeFixture& fx,
                         const Deadline& deadline, std::vector<double>& out) {
  const cuda::ScopedSwitch pdl(cuda::pdl_enabled, cuda::set_pdl, true);
  for (unsigned skip : kStepAblations) {
    if (deadline.passed()) break;
    SkipOps ops(env.ops, skip);
    SingleCommunicator comm;
    Model m(model.config(), single_rank_plan(model.config()), ops, comm, w);
    const FreshGraphs fresh(env.ops);
    out.push_back(time_decode_step(env, m, fx, env.opt.step_runs, deadline));
  }
}

DecodeCaseResult run_case(BenchEnv& env, Model& model, const ModelWeights& w, int64_t ctx, int64_t batch,
                          const Deadline& deadline) {
  DecodeCaseResult r;
  r.context = ctx;
  r.batch = batch;
  const ModelConfig& c = model.config();
  r.weight_bytes = step_weight_bytes(w, batch);
  r.kv_bytes = static_cast<double>(batch) * ctx * kv_bytes_per_token(c);
  DecodeFixture fx = make_decode_fixture(env, model, ctx, batch, static_cast<uint32_t>(1000 + ctx + batch));
  r.note = fx.note;
  if (!fx.cache) return r;
  r.ops = time_decode_ops(env, c, w, fx);
  if (fx.full()) {
    r.step_ms = time_decode_step_with_pdl(env, model, fx, env.opt.step_runs, deadline, false);
    if (!deadline.passed()) {
      r.step_pdl_ms = time_decode_step_with_pdl(env, model, fx, env.opt.step_runs, deadline, true);
    }
    if (!deadline.passed()) r.in_step = time_in_step(env, model, w, fx, std::min(env.opt.step_runs, 5));
  }
  return r;
}

// The step ablation of a case the decode section measured (after all of them: the cases' default
// rows come first under the deadline), on a fixture made again.
void ablate_case(BenchEnv& env, Model& model, const ModelWeights& w, DecodeCaseResult& r, const Deadline& deadline) {
  if (r.ops.empty() || !std::isfinite(r.step_ms)) return;  // (the case's whole step did not run)
  if (deadline.passed()) {
    r.step_skip_note = "skipped (time budget)";  // (said in the table, not left out of it)
    return;
  }
  progress(strf("decode step ablation: context %s, batch %lld", tokens_str(r.context).c_str(), (long long)r.batch));
  try {  // (a timing aid, on the default kernels: its failure must not lose the case's rows)
    DecodeFixture fx = make_decode_fixture(env, model, r.context, r.batch, static_cast<uint32_t>(1000 + r.context + r.batch));
    if (!fx.full()) return;
    time_step_ablations(env, model, w, fx, deadline, r.step_skip_ms);
  } catch (const std::exception& e) {
    r.step_skip_note = std::string("FAILED after ") + std::to_string(r.step_skip_ms.size()) + " masks: " + e.what();
    progress("decode step ablation " + r.step_skip_note);
  }
  if (r.step_skip_note.empty() && r.step_skip_ms.size() < std::size(kStepAblations) && deadline.passed()) {
    r.step_skip_note = "skipped (time budget)";
  }
}

// The step ablation's table (time_step_ablations), after the cases' own tables.
void report_step_ablations(BenchEnv& env, const std::vector<DecodeCaseResult>& cases) {
  std::vector<std::string> header = {"context", "batch"};
  for (unsigned skip : kStepAblations) header.push_back(skip_mask_name(skip) + " ms");
  header.push_back("no attention + no norms: of the weights' floor");
  Table t(header);
  for (const DecodeCaseResult& r : cases) {
    if (r.step_skip_ms.empty() && r.step_skip_note.empty()) continue;
    std::vector<std::string> row = {tokens_str(r.context), strf("%lld", (long long)r.batch)};
    for (size_t i = 0; i < std::size(kStepAblations); ++i) {
      // (past the timed masks: the case's failure, once, else "-" where the deadline cut them)
      row.push_back(i < r.step_skip_ms.size()   ? strf("%.2f", r.step_skip_ms[i])
                    : i == r.step_skip_ms.size() && !r.step_skip_note.empty() ? r.step_skip_note
                                                                              : std::string("-"));
    }
    const double gemvs_only = r.step_skip_ms.size() > 3 ? r.step_skip_ms[3] : NAN;
    const double weights_floor_ms = 1e3 * r.weight_bytes / env.ceil.copy_bw;
    row.push_back(std::isfinite(gemvs_only) ? pct(weights_floor_ms / gemvs_only) : "-");
    t.row(row);
  }
  if (t.empty()) return;
  env.report.line("The default step (PDL and graphs on, wall clock as above) with kinds of op left out, a timing aid "
                  "(launch/gqa_bench/skip_ops.h: no kernel launched for them; the tokens mean nothing): the "
                  "attention with its split merge, the RMSNorms with their residual adds, the weight GEMVs with "
                  "their fused RoPE + KV write and SwiGLU; 'full' runs the same wrapper with nothing left out. The "
                  "differences say what each kind costs inside a real step, overlaps included; 'no attention + no "
                  "norms' is the GEMV chain alone against the weights' bytes over copy bandwidth; the last column "
                  "but one is the step's skeleton (embedding, graph launch, logits to the host).");
  env.report.table(t);
}

}  // namespace

const OpTiming* DecodeCaseResult::op(const std::string& name) const {
  for (const OpTiming& o : ops) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

double time_decode_step(BenchEnv& env, Model& model, DecodeFixture& fx, int runs, const Deadline& deadline,
                        bool profile_range, int warmups, std::vector<double>* samples) {
  for (int i = 0; i < warmups; ++i) model.forward(fx.step, *fx.cache);
  std::vector<double> ms;
  // With profile_range, only the timed steps fall inside the profiler range (nsys
  // --capture-range=cudaProfilerApi, as gpu-check.sh --profile runs it); without a profiler
  // attached the calls do nothing.
  if (profile_range) GQA_CUDA_CHECK(cudaProfilerStart());
  while (static_cast<int>(ms.size()) < runs && (ms.size() < 5 || !deadline.passed())) {
    env.ops.synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    model.forward(fx.step, *fx.cache);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  if (profile_range) GQA_CUDA_CHECK(cudaProfilerStop());
  if (samples != nullptr) *samples = ms;
  return median(ms);
}

void bench_decode(BenchEnv& env, Model& model, const ModelWeights& w, double seconds,
                  std::vector<DecodeCaseResult>& out) {
  const Deadline deadline(seconds);
  env.report.heading("Decode: one rank's shard of Llama-3-70B at T=8 (" + describe(model.config()) + ")");
  env.report.line(
      "Per op: the CudaOps call the Model makes, with the step's shapes, on layer i % layers of the real weights and "
      "cache for run i; the L2 is flushed before each timed call (cold, as inside a step, where the weights stream "
      "through it); CUDA events, median of " + std::to_string(env.timing.runs) + " after " +
      std::to_string(env.timing.warmup) + " warm-up. Bytes: the fewest one call must move (weights once, the K/V "
      "it attends to once, activations). Roofline: max(bytes / copy, FLOPs / GEMM) over the time. Whole step: "
      "Model::forward with one token per sequence, with programmatic dependent launch off and on (gqa's default; the other kernel choices come in a section of their own after the prefill's; the per-op rows time the QKV GEMM and rope + kv_write, the gate/up GEMM and swiglu, apart: the default step fuses each pair at batch <= 8), host wall clock (it ends with the logits on the host), median of "
      "up to " + std::to_string(env.opt.step_runs) + "; its floor is (weights + K/V bytes) / copy bandwidth. The "
      "cache holds random K/V written directly (no prefill); the sequences' blocks are shuffled. The rows "
      "'candidates: ...' and 'draw: ...' (0 calls per step: per token, after the step, not in its sum) time the "
      "token's selection from this rank's logit slice (kernels/cuda/sampling.h).");
  int failed = 0;
  for (int64_t ctx : env.opt.contexts) {
    for (int64_t batch : env.opt.batches) {
      DecodeCaseResult r;
      r.context = ctx;
      r.batch = batch;
      if (deadline.passed()) {
        r.note = "skipped: the decode section's time budget ran out";
      } else {
        progress(strf("decode: context %s, batch %lld", tokens_str(ctx).c_str(), (long long)batch));
        try {
          r = run_case(env, model, w, ctx, batch, deadline);
        } catch (const std::exception& e) {
          r.note = std::string("FAILED: ") + e.what();
          progress(r.note);
          ++failed;
        }
      }
      if (r.ops.empty()) {
        env.report.line(strf("**Decode, context %s, batch %lld**: %s", tokens_str(ctx).c_str(), (long long)batch,
                             r.note.c_str()));
      } else {
        report_case(env, r);
      }
      env.report.save();
      out.push_back(std::move(r));
    }
  }
  for (DecodeCaseResult& r : out) ablate_case(env, model, w, r, deadline);
  report_step_ablations(env, out);
  env.report.save();
  // A failed case is reported in its row; failing the section too makes gqa-bench exit non-zero.
  GQA_CHECK(failed == 0, failed << " decode case(s) failed (above)");
}

void report_decode_summary(BenchEnv& env, const std::vector<DecodeCaseResult>& cases) {
  const Ceilings& c = env.ceil;
  env.report.heading("Summary: decode step of the 70B T=8 shard");
  Table t({"context", "batch", "step ms, PDL off", "floor ms", "of floor", "step ms, PDL on (default)",
           "of floor, PDL on", "unfused GEMVs ms (choices section)", "of floor", "sum of ops ms", "tokens/s (default)",
           "attention us", "attention of copy"});
  for (const DecodeCaseResult& r : cases) {
    const OpTiming* a = r.op("attention decode");
    double sum_ms = 0;
    for (const OpTiming& o : r.ops) sum_ms += o.us * o.per_step * 1e-3;
    const bool step = std::isfinite(r.step_ms), pdl = std::isfinite(r.step_pdl_ms);
    const bool unfused = std::isfinite(r.step_unfused_ms());
    t.row({tokens_str(r.context), strf("%lld", (long long)r.batch), step ? strf("%.2f", r.step_ms) : "-",
           strf("%.2f", r.floor_ms(c)), step ? pct(r.floor_ms(c) / r.step_ms) : "-",
           pdl ? strf("%.2f", r.step_pdl_ms) : "-", pdl ? pct(r.floor_ms(c) / r.step_pdl_ms) : "-",
           unfused ? strf("%.2f", r.step_unfused_ms()) : "-", unfused ? pct(r.floor_ms(c) / r.step_unfused_ms()) : "-",
           r.ops.empty() ? "-" : strf("%.2f", sum_ms), step ? strf("%.0f", r.batch * 1e3 / r.step_default_ms()) : "-",
           a ? strf("%.1f", a->us) : "-", a ? pct(a->bytes / (a->us * 1e-6) / c.copy_bw) : "-"});
  }
  env.report.table(t);
  // The floors are at the copy rate (issue 5's definition), but reads alone go faster: the same
  // floors at this run's bulk-copy read ceiling, which is not a bound either, only a lower floor.
  if (std::isfinite(c.read_bulk_bw) && c.read_bulk_bw > 0 && std::isfinite(c.copy_bw) && c.copy_bw > 0) {
    std::string line = strf("The floors above are the step's bytes over the copy rate. Reads alone went faster in this run: at "
                            "the bulk-copy read ceiling (%.0f GB/s, %.0f%% of copy) the floors are",
                            c.read_bulk_bw / 1e9, 100.0 * c.read_bulk_bw / c.copy_bw);
    bool any = false;
    for (const DecodeCaseResult& r : cases) {
      if (!std::isfinite(r.step_pdl_ms)) continue;
      const double floor_bulk = r.floor_ms(c) * c.copy_bw / c.read_bulk_bw;
      line += strf("%s %s batch %lld %.2f ms (the default step at %s of it)", any ? ";" : "", tokens_str(r.context).c_str(),
                   (long long)r.batch, floor_bulk, pct(floor_bulk / r.step_pdl_ms).c_str());
      any = true;
    }
    if (any) env.report.line(line + ".");
  }

  const int64_t n_coll = collectives_per_token(env.opt.layers);
  const double lat = env.opt.allreduce_us;
  env.report.heading("Projection: Llama-3-70B on 8 GPUs (T=8)");
  env.report.line(strf(
      "Per-token latency = the measured per-rank step above (PDL on, the default) + %lld collectives per token (2 all-reduces per layer, the "
      "embedding all-reduce, the logits all-gather) x an ASSUMED %.0f us each (range shown for 10 and 20 us). The "
      "latency is NOT measured here (one GPU): it is the order of magnitude that nccl-tests all_reduce_perf reports "
      "for small (<= 64 KB) messages inside one 8xH100 NVLink/NVSwitch node; custom one-shot all-reduces reach a few "
      "us. Replace it with a measured figure via --allreduce-us.", (long long)n_coll, lat));
  Table p({"context", "batch", "per-rank step ms", "collectives ms", "token latency ms", "tokens/s per sequence",
           "range (10-20 us)"});
  for (const DecodeCaseResult& r : cases) {
    const double step = r.step_default_ms();
    if (!std::isfinite(step)) continue;
    const double coll = n_coll * lat * 1e-3, tok = step + coll;
    p.row({tokens_str(r.context), strf("%lld", (long long)r.batch), strf("%.2f", step), strf("%.2f", coll),
           strf("%.2f", tok), strf("%.1f", 1e3 / tok),
           strf("%.1f-%.1f tok/s", 1e3 / (step + n_coll * 20e-3), 1e3 / (step + n_coll * 10e-3))});
  }
  env.report.table(p);
}

}  // namespace gqa::bench
