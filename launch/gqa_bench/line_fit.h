// A least-squares line through timed calls: time = fixed + bytes / rate. Used by the benchmarks to
// split a kernel's measured times at several sizes (the decode attention at 8K / 32K / 128K) into
// the cost every call pays whatever its size (launches, chains of dependent memory round trips)
// and the rate at which the rest streams: the two numbers a change aims at separately.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace gqa::bench {

struct LineFit {
  bool ok = false;         // at least two distinct sizes and a positive slope
  int points = 0;          // the finite points fitted
  double fixed = 0;        // the intercept: time at zero bytes (the unit of the times given); may
                           // come out negative, where the points do not lie on such a line
  double rate = 0;         // bytes per unit of time: 1 / slope
  double max_residual = 0;  // the largest |time - fit| over the points (0 through two points)
  // Whether max_residual says anything: a line through two points misses neither.
  bool residual_tested() const { return points > 2; }

  // The fit as the benchmarks print it, for times in microseconds: F ("14.1"), B in GB/s ("4087"),
  // B as a percentage of copy_bw bytes/s ("95.8%"), the largest miss ("0.7", or "- (2 points)").
  struct Cells {
    std::string fixed_us, gb_s, of_copy, miss;
  };
  Cells cells_us(double copy_bw) const {
    const double bytes_per_s = rate * 1e6;
    return {format("%.1f", fixed), format("%.0f", bytes_per_s / 1e9), format("%.1f%%", 100.0 * bytes_per_s / copy_bw),
            residual_tested() ? format("%.1f", max_residual) : std::string("- (2 points)")};
  }

 private:
  static std::string format(const char* f, double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, f, x);
    return buf;
  }
};

// points: (bytes, time). Non-finite points are left out (a variant not timed at that size).
inline LineFit fit_fixed_and_rate(const std::vector<std::pair<double, double>>& points) {
  std::vector<std::pair<double, double>> timed;
  for (const auto& p : points) {
    if (std::isfinite(p.first) && std::isfinite(p.second)) timed.push_back(p);
  }
  LineFit f;
  f.points = static_cast<int>(timed.size());
  if (timed.size() < 2) return f;
  double sx = 0, sy = 0;
  for (const auto& [x, y] : timed) {
    sx += x;
    sy += y;
  }
  const double mx = sx / double(timed.size()), my = sy / double(timed.size());
  double sxx = 0, sxy = 0;
  for (const auto& [x, y] : timed) {
    sxx += (x - mx) * (x - mx);
    sxy += (x - mx) * (y - my);
  }
  if (!(sxx > 0) || !(sxy > 0)) return f;  // one size only, or time not growing with bytes
  const double slope = sxy / sxx;
  f.ok = true;
  f.fixed = my - slope * mx;
  f.rate = 1.0 / slope;
  for (const auto& [x, y] : timed) f.max_residual = std::max(f.max_residual, std::fabs(y - (f.fixed + slope * x)));
  return f;
}

}  // namespace gqa::bench
