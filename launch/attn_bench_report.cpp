#include "launch/attn_bench_report.h"

#include <cstdio>
#include <set>
#include <string>

#include "launch/gqa_bench/line_fit.h"

namespace gqa::attn_bench {

// Per batch and build, the main table's times at the contexts timed fitted to time = F + bytes / B
// (least squares, line_fit.h): F is what every call pays whatever its context (launches, the chain of
// dependent memory round trips, the merge), B the rate the rest streams at. A change that cuts F
// (the fused merge) and one that raises B (the grouped copies over per-row ones) show up in different columns.
void print_fit(const std::vector<MainRow>& rows, double copy_bw) {
  bool header = false;
  std::set<int64_t> batches;  // the batches timed, ascending
  for (const MainRow& r : rows) batches.insert(r.batch);
  for (int64_t batch : batches) {
    for (int b = 0; b < 4; ++b) {
      std::vector<std::pair<double, double>> points;
      for (const MainRow& r : rows) {
        if (r.batch == batch) points.emplace_back(r.bytes, r.us[b]);
      }
      const bench::LineFit f = bench::fit_fixed_and_rate(points);
      if (!f.ok) continue;
      if (!header) {
        std::printf("\nfixed cost and stream rate: each batch's times above fitted to time = F + KV bytes / B\n\n");
        std::printf("| batch | build           | contexts | F (us) | B (GB/s) | B of copy | largest miss (us) |\n");
        std::printf("|------:|:----------------|---------:|-------:|---------:|----------:|------------------:|\n");
        header = true;
      }
      const bench::LineFit::Cells c = f.cells_us(copy_bw);
      std::printf("| %5lld | %-15s | %8d | %6s | %8s | %9s | %17s |\n", (long long)batch, kBuildNames[b], f.points,
                  c.fixed_us.c_str(), c.gb_s.c_str(), c.of_copy.c_str(), c.miss.c_str());
    }
  }
}

// Two parts of the fixed cost, timed alone the same way: the harness (an empty kernel) and the
// merge kernel on the plan's partials. The rest of F is the decode kernel's own chain (launch,
// block table, first K/V tile, last tile, partial writes).
void print_fixed_parts(const std::vector<MainRow>& rows, double empty_us) {
  if (rows.empty()) return;
  std::printf("\nparts of the fixed cost, each timed alone as the attention is: an empty kernel %.1f us (the harness's "
              "floor); the merge kernel on the default plan's partials:\n\n", empty_us);
  std::printf("| context | batch | partials per row | merge kernel alone (us) | of the default's time |\n");
  std::printf("|--------:|------:|-----------------:|------------------------:|----------------------:|\n");
  for (const MainRow& r : rows) {
    if (std::isfinite(r.merge_us)) {
      std::printf("| %6lldK | %5lld | %16d | %23.1f | %20.0f%% |\n", (long long)(r.ctx / 1024), (long long)r.batch,
                  r.partials, r.merge_us, 100.0 * r.merge_us / r.us[0]);
    } else {
      std::printf("| %6lldK | %5lld | %16d | %23s | %21s |\n", (long long)(r.ctx / 1024), (long long)r.batch, r.partials,
                  "- (no merge kernel)", "-");
    }
  }
}

void print_sweep(const std::vector<SweepRow>& rows) {
  if (rows.empty()) return;
  std::printf("\nsplit sweep (us per call; plan = the automatic split count with the default build: grouped bulk copies, 3 stages):\n\n");
  std::printf("| context | batch | plan splits | plan us | cp.async 6 stages: splits, us | cp.async: splits, us | "
              "bulk 6 stages: splits, us | cluster: splits, us | pages in order: us | 16-token pages: us | 64-token pages: us | "
              "best splits | best us | us at 4, 8, 16, ... splits | fused merge: us at 4, 8, 16, ... |\n");
  std::printf("|--------:|------:|------------:|--------:|---------------------:|-----------------:|----------------------"
              "---:|--------------------:|-------------------:|-------------------:|--------------------:|------------:|"
              "--------:|:---------------------------|:---------------------------|\n");
  const auto listed = [](const std::vector<std::pair<int, double>>& times) {
    std::string all;
    for (const auto& [n, us] : times) {
      char buf[48];
      std::snprintf(buf, sizeof buf, "%s%d: %.1f", all.empty() ? "" : ", ", n, us);
      all += buf;
    }
    return all;
  };
  for (const SweepRow& r : rows) {
    std::pair<int, double> best{r.auto_splits, r.auto_us};
    for (const auto& [n, us] : r.forced) {
      if (us < best.second) best = {n, us};
    }
    std::printf("| %6lldK | %5lld | %11d | %7.1f | %12d, %7.1f | %8d, %7.1f | %15d, %7.1f | %11d, %7.1f | %18.1f | "
                "%18.1f | %19.1f | %11d | %7.1f | %s | %s |\n",
                (long long)(r.ctx / 1024), (long long)r.batch, r.auto_splits, r.auto_us, r.variant_splits[0],
                r.variant_us[0], r.variant_splits[1], r.variant_us[1], r.variant_splits[2], r.variant_us[2],
                r.variant_splits[3], r.variant_us[3], r.in_order_us, r.other_pages_us[0], r.other_pages_us[1], best.first,
                best.second, listed(r.forced).c_str(), listed(r.forced_opt_in).c_str());
  }
}

}  // namespace gqa::attn_bench
