// The L2 prefetch's plan (kernels/cuda/l2_prefetch.cu, l2_prefetch_plan): which bytes of each row
// a prefetch within a budget asks for. Host arithmetic: runs in CI without a GPU.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/l2_prefetch.h"

namespace gqa {
namespace {

using cuda::l2_prefetch_plan;
using cuda::PrefetchWeight;

TEST(L2PrefetchPlan, WholeWeightsThenAShareOfEveryRowOfTheNext) {
  char dummy = 0;
  // One rank of Llama-3-70B at T = 8: O [8192, 1024] bf16 (16 MiB), gate/up [7168, 8192] bf16.
  const PrefetchWeight wo{&dummy, 8192, 2048}, gate_up{&dummy, 7168, 16384};
  const int64_t budget = 25 << 20;  // half an H100's 50 MB L2, about
  std::vector<int64_t> p = l2_prefetch_plan({wo, gate_up}, budget);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0], 2048);                      // O whole
  const int64_t left = budget - 8192 * 2048;  // 9 MiB over 7168 rows
  EXPECT_EQ(p[1], left / 7168 / 128 * 128);   // whole 128-byte lines of every row
  EXPECT_LE(p[0] * 8192 + p[1] * 7168, budget);
  EXPECT_GT(p[1], 0);

  // The first weight past the budget stops the plan: nothing for the ones after it.
  p = l2_prefetch_plan({gate_up, wo}, budget);
  EXPECT_LT(p[0], 16384);
  EXPECT_EQ(p[1], 0);
  // Too little for a line of every row: 0 for that weight.
  p = l2_prefetch_plan({gate_up}, 7168 * 127);
  EXPECT_EQ(p[0], 0);
  // Everything fits; empty weights take nothing; a zero budget asks for nothing.
  p = l2_prefetch_plan({wo, PrefetchWeight{&dummy, 0, 64}, gate_up}, int64_t(1) << 40);
  EXPECT_EQ(p, (std::vector<int64_t>{2048, 0, 16384}));
  p = l2_prefetch_plan({wo}, 0);
  EXPECT_EQ(p[0], 0);
  EXPECT_THROW(l2_prefetch_plan({wo}, -1), Error);
  EXPECT_THROW(l2_prefetch_plan({PrefetchWeight{&dummy, -1, 64}}, 100), Error);
}

// A weight that fills the budget exactly is taken whole, even with rows that are not whole
// 128-byte lines (10 rows of 100 bytes in 1000).
TEST(L2PrefetchPlan, AnExactFitIsWhole) {
  char dummy = 0;
  EXPECT_EQ(l2_prefetch_plan({PrefetchWeight{&dummy, 10, 100}}, 1000), (std::vector<int64_t>{100}));
  EXPECT_EQ(l2_prefetch_plan({PrefetchWeight{&dummy, 10, 100}}, 999), (std::vector<int64_t>{0}));
}

}  // namespace
}  // namespace gqa
