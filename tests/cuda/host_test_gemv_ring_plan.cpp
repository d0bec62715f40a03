// The decode GEMVs' ring build's launch shape (kernels/cuda/gemv_ring_plan.h), host arithmetic: the
// stage count that keeps the most stages in flight per SM, within the shared-memory limits.
#include <gtest/gtest.h>

#include <string>

#include "kernels/cuda/gemv_ring_plan.h"

namespace gqa {
namespace {

constexpr size_t kKiB = 1024;
constexpr size_t kH100Smem = 228 * kKiB;  // shared memory per SM of an H100 / H200
constexpr size_t kA100Smem = 164 * kKiB;
constexpr size_t kStatic = 2 * kKiB;  // a block's static arrays and the 1 KB per-block reserve

TEST(GemvRingPlan, SeventyBShardAtBatchOneOnHopper) {
  // 32 KB units (two rows of k = 8192, bf16): 3 stages, 2 blocks per SM: 4 stages in flight
  // (2 stages: 3 blocks x 1; 4 stages: 1 block x 3).
  const cuda::GemvRingPlan plain = cuda::gemv_ring_plan(32 * kKiB, 0, kH100Smem, kStatic);
  EXPECT_TRUE(plain.ok);
  EXPECT_EQ(plain.stages, 3);
  EXPECT_EQ(plain.smem, 96 * kKiB);
  // With the norm prologue's one row (16 KB): still 3 stages, 112 KB.
  const cuda::GemvRingPlan normed = cuda::gemv_ring_plan(32 * kKiB, 16 * kKiB, kH100Smem, kStatic);
  EXPECT_TRUE(normed.ok);
  EXPECT_EQ(normed.stages, 3);
  EXPECT_EQ(normed.smem, 112 * kKiB);
}

TEST(GemvRingPlan, SmallUnitsTakeTheMostStages) {
  // 8 KB units: 4 stages (34 KB a block with the static bytes: 6 blocks, 18 in flight).
  const cuda::GemvRingPlan p = cuda::gemv_ring_plan(8 * kKiB, 0, kH100Smem, kStatic);
  EXPECT_TRUE(p.ok);
  EXPECT_EQ(p.stages, cuda::kGemvRingStagesMax);
  EXPECT_EQ(p.smem, 32 * kKiB);
}

// A tie in stages in flight goes to the larger count; a block's static bytes count against the
// SM's shared memory. 8 KB units on an A100's 164 KB: 2 stages 8 blocks x 1, 3 stages 6 x 2, 4
// stages 4 x 3: 3 and 4 tie at 12, and 4 it is. 14 KB units on 228 KB: 3 stages (5 blocks of 44 KB
// with the static 2 KB: 10 in flight) over 4 (3 blocks of 58 KB: 9; without the static bytes it
// would be 4 blocks: 12).
TEST(GemvRingPlan, TiesTakeMoreStagesAndStaticBytesCount) {
  const cuda::GemvRingPlan tie = cuda::gemv_ring_plan(8 * kKiB, 0, kA100Smem, kStatic);
  EXPECT_TRUE(tie.ok);
  EXPECT_EQ(tie.stages, 4);
  const cuda::GemvRingPlan p = cuda::gemv_ring_plan(14 * kKiB, 0, kH100Smem, kStatic);
  EXPECT_TRUE(p.ok);
  EXPECT_EQ(p.stages, 3);
  EXPECT_EQ(p.smem, 42 * kKiB);
}

TEST(GemvRingPlan, WithinTheDeviceAndTheLimit) {
  for (size_t unit : {4 * kKiB, 16 * kKiB, 32 * kKiB, 48 * kKiB, 64 * kKiB, 80 * kKiB}) {
    for (size_t norm : {size_t{0}, 16 * kKiB, 64 * kKiB}) {
      for (size_t smem : {kH100Smem, kA100Smem}) {
        const cuda::GemvRingPlan p = cuda::gemv_ring_plan(unit, norm, smem, kStatic);
        SCOPED_TRACE("unit " + std::to_string(unit) + " norm " + std::to_string(norm) + " smem " + std::to_string(smem));
        EXPECT_EQ(p.ok, 2 * unit + norm <= cuda::kGemvRingMaxBytes);
        if (!p.ok) continue;
        EXPECT_GE(p.stages, 2);
        EXPECT_LE(p.stages, cuda::kGemvRingStagesMax);
        EXPECT_EQ(p.smem, p.stages * unit + norm);
        EXPECT_LE(p.smem, cuda::kGemvRingMaxBytes);
        EXPECT_LE(p.smem + kStatic, smem);
      }
    }
  }
}

TEST(GemvRingPlan, RefusesWhatTwoStagesCannotHold) {
  EXPECT_FALSE(cuda::gemv_ring_plan(96 * kKiB, 0, kH100Smem, kStatic).ok);        // two 96 KB stages
  EXPECT_FALSE(cuda::gemv_ring_plan(64 * kKiB, 64 * kKiB, kH100Smem, kStatic).ok);  // 128 KB + 64 KB of rows
  EXPECT_TRUE(cuda::gemv_ring_plan(64 * kKiB, 0, kH100Smem, kStatic).ok);
}

}  // namespace
}  // namespace gqa
