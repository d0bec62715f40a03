// The persistent MLP kernel's shared-memory plan (kernels/cuda/mlp_persistent_plan.h), host
// arithmetic: as many stages of the larger unit as fit beside the rows, kMlpStagesMin (3) to
// kMlpStagesMax.
#include <gtest/gtest.h>

#include <string>

#include "kernels/cuda/mlp_persistent_plan.h"

namespace gqa {
namespace {

constexpr size_t kKiB = 1024;
constexpr size_t kHopperOptin = 227 * kKiB;  // per-block shared memory with the opt-in (H100 / H200)
constexpr size_t kStatic = 1280;             // the kernel's own arrays (one row; 1408 at two)

TEST(MlpPersistentPlan, SeventyBShardOnHopper) {
  // gate/up units of 32 KB (a gate and an up row of k = 8192, bf16), down units of 28 KB (two
  // groups of two rows of f = 3584): 32 KB stages. One row: x (16 KB) and act (7 KB) beside them:
  // 6 stages (the most), 215 KB.
  const size_t rows1 = (8192 + 3584) * 2;
  const cuda::MlpPersistentPlan one = cuda::mlp_persistent_plan(32 * kKiB, 28 * kKiB, rows1, kStatic, kHopperOptin);
  EXPECT_TRUE(one.ok);
  EXPECT_EQ(one.stage_bytes, 32 * kKiB);
  EXPECT_EQ(one.stages, 6);
  EXPECT_EQ(one.smem, 6 * 32 * kKiB + rows1);
  // Two rows (47 KB of them): 5 stages.
  const cuda::MlpPersistentPlan two = cuda::mlp_persistent_plan(32 * kKiB, 28 * kKiB, 2 * rows1, 1408, kHopperOptin);
  EXPECT_TRUE(two.ok);
  EXPECT_EQ(two.stages, 5);
  EXPECT_EQ(two.smem, 5 * 32 * kKiB + 2 * rows1);
}

TEST(MlpPersistentPlan, LlamaEightBShape) {
  // k = 4096, f = 14336 (Llama-3-8B at T = 1): gate/up units of 32 KB (four rows of 4096), down
  // units of 56 KB (two rows of 14336): 56 KB stages. One row (x 8 KB, act 28 KB): 3 stages; two
  // rows: 2 would fit, under the minimum: not served (the unfused calls run).
  const size_t rows1 = (4096 + 14336) * 2;
  const cuda::MlpPersistentPlan one = cuda::mlp_persistent_plan(32 * kKiB, 56 * kKiB, rows1, kStatic, kHopperOptin);
  EXPECT_TRUE(one.ok);
  EXPECT_EQ(one.stages, 3);
  const cuda::MlpPersistentPlan two = cuda::mlp_persistent_plan(32 * kKiB, 56 * kKiB, 2 * rows1, 1408, kHopperOptin);
  EXPECT_FALSE(two.ok);
  EXPECT_EQ(two.stages, 0);
}

TEST(MlpPersistentPlan, StageIsTheLargerUnit) {
  const cuda::MlpPersistentPlan p = cuda::mlp_persistent_plan(10 * kKiB, 30 * kKiB, kKiB, kStatic, kHopperOptin);
  EXPECT_TRUE(p.ok);
  EXPECT_EQ(p.stage_bytes, 30 * kKiB);
  EXPECT_EQ(p.stages, cuda::kMlpStagesMax);
}

TEST(MlpPersistentPlan, WithinTheLimitOrNotAtAll) {
  for (size_t unit : {kKiB, 16 * kKiB, 32 * kKiB, 64 * kKiB, 96 * kKiB, 120 * kKiB}) {
    for (size_t rows : {size_t{16}, 23 * kKiB, 64 * kKiB, 200 * kKiB, 240 * kKiB}) {
      const cuda::MlpPersistentPlan p = cuda::mlp_persistent_plan(unit, unit / 2, rows, kStatic, kHopperOptin);
      SCOPED_TRACE("unit " + std::to_string(unit) + " rows " + std::to_string(rows));
      const bool fits_min = rows + kStatic <= kHopperOptin &&
                            cuda::kMlpStagesMin * unit <= kHopperOptin - rows - kStatic;
      EXPECT_EQ(p.ok, fits_min);
      if (!p.ok) {
        EXPECT_EQ(p.stages, 0);
        EXPECT_EQ(p.smem, 0u);
        continue;
      }
      EXPECT_GE(p.stages, cuda::kMlpStagesMin);
      EXPECT_LE(p.stages, cuda::kMlpStagesMax);
      EXPECT_EQ(p.smem, p.stages * unit + rows);
      EXPECT_LE(p.smem + kStatic, kHopperOptin);
      // the most that fit: one more stage would not (or the cap)
      EXPECT_TRUE(p.stages == cuda::kMlpStagesMax || p.smem + unit + kStatic > kHopperOptin);
    }
  }
}

TEST(MlpPersistentPlan, NoUnitsNoPlan) { EXPECT_FALSE(cuda::mlp_persistent_plan(0, 0, kKiB, kStatic, kHopperOptin).ok); }

}  // namespace
}  // namespace gqa
