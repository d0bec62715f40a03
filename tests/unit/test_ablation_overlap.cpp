// The prefill ablation's overlap reading (launch/gqa_bench/ablation_overlap.h).
#include <gtest/gtest.h>

#include <limits>

#include "launch/gqa_bench/ablation_overlap.h"

namespace gqa::bench {
namespace {

TEST(AblationOverlap, NoneHiddenWhenThePartsAddUp) {
  // skeleton 1, GEMMs 4, softmax 3, full 8 = 1 + 4 + 3
  const AblationOverlap r = ablation_overlap(8, 1, 5, 4);
  ASSERT_TRUE(r.ok);
  EXPECT_DOUBLE_EQ(r.gemms, 4);
  EXPECT_DOUBLE_EQ(r.softmax, 3);
  EXPECT_DOUBLE_EQ(r.serial, 8);
  EXPECT_DOUBLE_EQ(r.hidden, 0);
}

TEST(AblationOverlap, AllHiddenWhenTheFullTimeIsTheLargerPart) {
  const AblationOverlap r = ablation_overlap(5, 1, 5, 4);  // full = skeleton + GEMMs
  ASSERT_TRUE(r.ok);
  EXPECT_DOUBLE_EQ(r.hidden, 1);
  const AblationOverlap half = ablation_overlap(6.5, 1, 5, 4);  // half the softmax's 3 hidden
  ASSERT_TRUE(half.ok);
  EXPECT_DOUBLE_EQ(half.hidden, 0.5);
}

TEST(AblationOverlap, RunTenTmaBuildAt8K) {
  // run 10 (H200, TMA build, 8K prompt): full 0.32, skeleton 0.09, GEMMs + skeleton 0.22,
  // softmax + skeleton 0.20 ms: 0.33 serial, 0.01 of 0.11 hidden
  const AblationOverlap r = ablation_overlap(0.32, 0.09, 0.22, 0.20);
  ASSERT_TRUE(r.ok);
  EXPECT_NEAR(r.serial, 0.33, 1e-12);
  EXPECT_NEAR(r.hidden, 0.01 / 0.11, 1e-9);
}

TEST(AblationOverlap, RefusesMissingOrMeaninglessTimes) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(ablation_overlap(nan, 1, 5, 4).ok);       // a row skipped or failed
  EXPECT_FALSE(ablation_overlap(8, 0, 5, 4).ok);         // a zero time
  EXPECT_FALSE(ablation_overlap(8, 1, 1, 4).ok);         // GEMMs no slower than the skeleton
  EXPECT_FALSE(ablation_overlap(8, 1, 5, 0.5).ok);       // softmax faster than the skeleton
}

}  // namespace
}  // namespace gqa::bench
