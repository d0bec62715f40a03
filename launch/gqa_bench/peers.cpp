#include "launch/gqa_bench/peers.h"

#include <cmath>
#include <cstdio>
#include <deque>
#include <iostream>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "launch/gqa_bench/line_fit.h"
#include "launch/gqa_bench/random_model.h"

namespace gqa::bench {
namespace {

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t x : v) {
    if (!s.empty()) s += ',';
    s += std::to_string(x);
  }
  return s;
}

}  // namespace

void bench_sdpa(BenchEnv& env, const std::vector<DecodeCaseResult>& ours, double seconds) {
  const ModelConfig c = llama70b_shard_config(1, env.opt.layers);
  env.report.heading("Peer: PyTorch SDPA (enable_gqa=True) on the decode attention shapes");
  if (seconds < 10) {  // (python and torch take seconds to start: with less, the run would overrun --budget-s)
    env.report.line(strf("Skipped: %.0f s of the time budget (--budget-s) left for it.", seconds));
    env.report.save();
    return;
  }
  const PythonRun py = run_python(env.opt.python, env.opt.peers_dir, "sdpa_bench.py",
                                  {"--contexts", join(env.opt.contexts), "--batches", join(env.opt.batches),
                                   "--q-heads", std::to_string(c.num_attention_heads), "--kv-heads",
                                   std::to_string(c.num_key_value_heads), "--head-dim", std::to_string(c.head_dim),
                                   "--runs", std::to_string(env.timing.runs), "--warmup",
                                   std::to_string(env.timing.warmup), "--time-budget", strf("%.0f", seconds)},
                                  seconds + 30);
  if (!py.has_result || py.result.value("status", "") != "ok") {
    env.report.line("Skipped: " + py.failure());
    env.report.save();
    return;
  }
  env.report.line("q [B, 8, 1, 128], K/V [B, 1, context, 128] bf16, contiguous (SDPA has no paged cache), " +
                  py.result.value("how", std::string()) + "; torch " + py.result.value("torch", std::string()) +
                  ". Ours: the attention decode row of the decode section (paged, shuffled blocks).");
  Table t({"context", "batch", "ours us", "SDPA us", "ours vs SDPA (SDPA us / ours us)", "ours of copy", "SDPA of copy", "SDPA mode"});
  // (KV bytes, us) per batch for the fit below: [batch] -> {ours, SDPA}.
  std::map<int64_t, std::pair<std::vector<std::pair<double, double>>, std::vector<std::pair<double, double>>>> points;
  for (const auto& row : py.result.value("rows", nlohmann::json::array())) {
    const int64_t ctx = row.value("context", int64_t(0)), batch = row.value("batch", int64_t(0));
    const double sdpa_us = row.value("us", NAN), bytes = row.value("kv_bytes", NAN);
    const OpTiming* mine = nullptr;
    for (const DecodeCaseResult& r : ours) {
      if (r.context == ctx && r.batch == batch) mine = r.op("attention decode");
    }
    const double bw = env.ceil.copy_bw;
    t.row({tokens_str(ctx), std::to_string(batch), mine ? strf("%.1f", mine->us) : "-",
           std::isfinite(sdpa_us) ? strf("%.1f", sdpa_us) : row.value("error", std::string("-")),
           mine && std::isfinite(sdpa_us) ? strf("%.2fx", sdpa_us / mine->us) : "-",
           mine ? strf("%.0f%%", 100 * mine->bytes / (mine->us * 1e-6) / bw) : "-",
           std::isfinite(sdpa_us) ? strf("%.0f%%", 100 * bytes / (sdpa_us * 1e-6) / bw) : "-",
           row.value("mode", std::string())});
    points[batch].first.emplace_back(mine ? mine->bytes : NAN, mine ? mine->us : NAN);
    points[batch].second.emplace_back(bytes, sdpa_us);
  }
  env.report.table(t);
  // Each batch's rows fitted to time = F + KV bytes / B (line_fit.h): the cost every call pays
  // whatever its context, and the rate the rest streams at, for both.
  Table fit({"batch", "who", "contexts", "F us", "B GB/s", "B of copy", "largest miss us"});
  for (const auto& [batch, pts] : points) {
    for (int who = 0; who < 2; ++who) {
      const auto& xy = who == 0 ? pts.first : pts.second;
      const LineFit f = fit_fixed_and_rate(xy);
      if (!f.ok) continue;
      const LineFit::Cells c = f.cells_us(env.ceil.copy_bw);
      fit.row({std::to_string(batch), who == 0 ? "ours" : "SDPA", std::to_string(f.points), c.fixed_us, c.gb_s,
               c.of_copy, c.miss});
    }
  }
  if (!fit.empty()) {
    env.report.line("Each batch's times over the contexts fitted to time = F + KV bytes / B (least squares): F the "
                    "fixed cost of a call, B the rate the rest streams at.");
    env.report.table(fit);
  }
  env.report.save();
}

}  // namespace gqa::bench
