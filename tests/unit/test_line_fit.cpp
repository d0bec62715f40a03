// The benchmarks' fixed-cost + rate fit (launch/gqa_bench/line_fit.h).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "launch/gqa_bench/line_fit.h"

namespace gqa::bench {
namespace {

TEST(LineFit, RecoversAnExactLine) {
  // time = 12 + bytes / 4: three sizes.
  const LineFit f = fit_fixed_and_rate({{8, 14}, {32, 20}, {128, 44}});
  ASSERT_TRUE(f.ok);
  EXPECT_NEAR(f.fixed, 12.0, 1e-12);
  EXPECT_NEAR(f.rate, 4.0, 1e-12);
  EXPECT_NEAR(f.max_residual, 0.0, 1e-12);
  EXPECT_EQ(f.points, 3);
  EXPECT_TRUE(f.residual_tested());
}

TEST(LineFit, TwoMeasuredRows) {
  // Run 5's decode attention at batch 16 (gqa-attn-bench, H200): 32K 268.4 MB in 83.4 us, 128K
  // 1073.7 MB in 287.8 us -> 15.3 us fixed, 3.94 MB/us (TB/s).
  const LineFit f = fit_fixed_and_rate({{268.4, 83.4}, {1073.7, 287.8}});
  ASSERT_TRUE(f.ok);
  EXPECT_NEAR(f.fixed, 15.3, 0.05);
  EXPECT_NEAR(f.rate, 3.94, 0.005);
  EXPECT_FALSE(f.residual_tested());  // a line through two points misses neither
}

TEST(LineFit, LeastSquaresThroughNoise) {
  // y = 10 + x / 2 with +1, -2, +1 added (zero mean, no trend): the least-squares line is the
  // noiseless one, and the largest miss is the -2.
  const LineFit f = fit_fixed_and_rate({{0, 11}, {10, 13}, {20, 21}});
  ASSERT_TRUE(f.ok);
  EXPECT_NEAR(f.fixed, 10.0, 1e-9);
  EXPECT_NEAR(1.0 / f.rate, 0.5, 1e-9);
  EXPECT_NEAR(f.max_residual, 2.0, 1e-9);
}

TEST(LineFit, SkipsPointsNotTimed) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const LineFit f = fit_fixed_and_rate({{8, nan}, {32, 20}, {128, 44}, {nan, 50}});
  ASSERT_TRUE(f.ok);
  EXPECT_NEAR(f.fixed, 12.0, 1e-12);
  EXPECT_NEAR(f.rate, 4.0, 1e-12);
  EXPECT_EQ(f.points, 2);  // neither a time nor a size missing counts
}

TEST(LineFit, CellsInMicrosecondsAndGigabytesPerSecond) {
  // 14 us fixed, then 4000 bytes per us (4 GB/s) against a 5 GB/s copy: three points on the line.
  const LineFit f = fit_fixed_and_rate({{4000, 15}, {40000, 24}, {400000, 114}});
  ASSERT_TRUE(f.ok);
  const LineFit::Cells c = f.cells_us(5e9);
  EXPECT_EQ(c.fixed_us, "14.0");
  EXPECT_EQ(c.gb_s, "4");
  EXPECT_EQ(c.of_copy, "80.0%");
  EXPECT_EQ(c.miss, "0.0");
  EXPECT_EQ(fit_fixed_and_rate({{4000, 15}, {40000, 24}}).cells_us(5e9).miss, "- (2 points)");
}

TEST(LineFit, RefusesWhatIsNoLine) {
  EXPECT_FALSE(fit_fixed_and_rate({}).ok);
  EXPECT_FALSE(fit_fixed_and_rate({{8, 14}}).ok);
  EXPECT_FALSE(fit_fixed_and_rate({{8, 14}, {8, 15}}).ok);    // one size
  EXPECT_FALSE(fit_fixed_and_rate({{8, 14}, {32, 14}}).ok);   // no growth
  EXPECT_FALSE(fit_fixed_and_rate({{8, 20}, {32, 14}}).ok);   // shrinking time
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(fit_fixed_and_rate({{8, nan}, {32, 14}}).ok);  // one finite point
}

}  // namespace
}  // namespace gqa::bench
