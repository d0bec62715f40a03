// The persistent wgmma prefill's zig-zag schedule (kernels/cuda/persistent_schedule.h): every item
// taken exactly once, by rounds, whatever the grid; and on work that falls linearly with the item
// number (a causal prompt's row blocks, heaviest first) no block carries much more than the mean,
// where taking items in block order every round (the plain stride) leaves the first blocks ~1.5x
// the mean. Host only: nothing is launched.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "kernels/cuda/persistent_schedule.h"

namespace gqa::cuda {
namespace {

// Each block's items in the kernel's order (rounds while k * grid < items).
std::vector<std::vector<int>> schedule(int grid, int items) {
  std::vector<std::vector<int>> taken(grid);
  for (int block = 0; block < grid; ++block) {
    for (int k = 0; k * grid < items; ++k) {
      const int item = zigzag_item(k, block, grid, items);
      if (item >= 0) taken[block].push_back(item);
    }
  }
  return taken;
}

TEST(PersistentSchedule, EveryItemOnceInRounds) {
  for (int grid : {1, 2, 3, 7, 131, 132}) {
    for (int items : {1, 2, 5, 131, 132, 133, 256, 263, 264, 512, 1000}) {
      if (grid > items) continue;  // (the launch makes grid = min(items, SMs))
      std::vector<int> count(items, 0);
      for (const std::vector<int>& own : schedule(grid, items)) {
        for (size_t k = 0; k < own.size(); ++k) {
          ASSERT_GE(own[k], 0);
          ASSERT_LT(own[k], items);
          ++count[own[k]];
          if (k > 0) {
            EXPECT_LT(own[k - 1] / grid, own[k] / grid) << "rounds in order";
          }
        }
      }
      for (int i = 0; i < items; ++i) EXPECT_EQ(count[i], 1) << "item " << i << " of " << items << ", grid " << grid;
    }
  }
  EXPECT_EQ(zigzag_item(0, 3, 7, 100), 3);
  EXPECT_EQ(zigzag_item(1, 3, 7, 100), 10);  // round 1 reversed: 7 + (6 - 3)
  EXPECT_EQ(zigzag_item(1, 0, 7, 10), -1);   // 13 >= 10
}

// The largest block sum over the mean, for work w(i) = items - i (item 0 the heaviest).
double max_over_mean(const std::vector<std::vector<int>>& taken, int items) {
  double most = 0, all = 0;
  for (const std::vector<int>& own : taken) {
    double sum = 0;
    for (int i : own) sum += items - i;
    most = std::max(most, sum);
    all += sum;
  }
  return most / (all / static_cast<double>(taken.size()));
}

TEST(PersistentSchedule, BalancesLinearlyFallingWork) {
  // an 8K prompt in 4K chunks on 132 SMs: 256 row blocks a chunk (one KV head, group 8), and more
  for (int items : {256, 264, 512, 1024, 4096}) {
    const int grid = 132;
    const double zigzag = max_over_mean(schedule(grid, items), items);
    std::vector<std::vector<int>> stride(grid);
    for (int i = 0; i < items; ++i) stride[i % grid].push_back(i);
    const double plain = max_over_mean(stride, items);
    EXPECT_LT(zigzag, 1.05) << items << " items";
    EXPECT_LT(zigzag, plain) << items << " items";
  }
  EXPECT_GT(max_over_mean([] {
              std::vector<std::vector<int>> stride(132);
              for (int i = 0; i < 256; ++i) stride[i % 132].push_back(i);
              return stride;
            }(),
            256),
            1.4);  // (what the zig-zag avoids)
}

}  // namespace
}  // namespace gqa::cuda
