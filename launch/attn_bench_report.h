// gqa-attn-bench's tables after its main one (host code): the fixed-cost + stream-rate fit, the
// parts of the fixed cost, the split sweep; and the rows they are printed from.
#pragma once

#include <cmath>
#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

namespace gqa::attn_bench {

// The sweep's other page sizes (shuffled), against the default's.
inline constexpr int64_t kOtherPages[2] = {16, 64};

// One --sweep line: the plan's split count and time, then each forced count's time.
struct SweepRow {
  int64_t ctx = 0, batch = 0;
  int auto_splits = 0;
  double auto_us = 0;
  std::vector<std::pair<int, double>> forced;  // (splits, us)
  // The same forced counts with the fused merge (where the plan has more than one split): no merge
  // kernel.
  std::vector<std::pair<int, double>> forced_opt_in;
  // The plan's split count and time for the other builds: {cp.async 6 stages, cp.async 3 stages,
  // bulk 6 stages (one copy per row), cluster reduction (cp.async)}; the default is bulk, 3 stages,
  // grouped copies where they fit.
  int variant_splits[4] = {0, 0, 0, 0};
  double variant_us[4] = {0, 0, 0, 0};
  double in_order_us = 0;  // the default build and plan with each sequence's blocks in order (contiguous)
  // ... on shuffled pages of kOtherPages tokens instead of the default's
  double other_pages_us[std::size(kOtherPages)] = {};
};

// One main-table line's times (NaN: not timed), for the fixed-cost + rate fit after the table.
struct MainRow {
  int64_t ctx = 0, batch = 0;
  double bytes = 0;
  double us[4] = {0, 0, 0, 0};  // the plan (default build), fused merge, per-row copies, both
  int partials = 0;             // the default plan's partials per row (1: no merge kernel)
  double merge_us = NAN;        // the merge kernel alone on that many partials (NaN: none)
};
// The main table's builds, as MainRow::us holds them.
inline constexpr const char* kBuildNames[4] = {"default", "fused merge", "per-row copies", "per-row + fused"};

// Per batch and build, the main table's times at the contexts timed fitted to time = F + bytes / B
// (least squares, line_fit.h): F is what every call pays whatever its context (launches, the chain of
// dependent memory round trips, the merge), B the rate the rest streams at. A change that cuts F
// (the fused merge) and one that raises B (the grouped copies over per-row ones) show up in different columns.
void print_fit(const std::vector<MainRow>& rows, double copy_bw);

// Two parts of the fixed cost, timed alone the same way: the harness (an empty kernel) and the
// merge kernel on the plan's partials. The rest of F is the decode kernel's own chain (launch,
// block table, first K/V tile, last tile, partial writes).
void print_fixed_parts(const std::vector<MainRow>& rows, double empty_us);

// The --sweep table: per shape, the plan, the other builds, the page layouts and the forced split counts.
void print_sweep(const std::vector<SweepRow>& rows);

}  // namespace gqa::attn_bench
