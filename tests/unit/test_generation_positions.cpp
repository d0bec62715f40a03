// gqa::generation_positions: the count of positions a generation runs through the model, which
// Generator checks the window and the cache against and gqa-generate sizes its cache by.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "core/error.h"
#include "runtime/generator.h"
#include "tests/support/expect_error.h"

namespace gqa {
namespace {

TEST(GenerationPositions, ThePromptThenEachNewTokenButTheLast) {
  EXPECT_EQ(generation_positions(5, 0, "g"), 5);  // the prompt alone (its logits)
  EXPECT_EQ(generation_positions(5, 1, "g"), 5);  // the one new token is not fed back
  EXPECT_EQ(generation_positions(5, 8, "g"), 12);
  EXPECT_EQ(generation_positions(1, 1, "g"), 1);
  EXPECT_EQ(generation_positions(0, 0, "g"), 0);
}

TEST(GenerationPositions, RefusedPast2To31AndForNegativeLengths) {
  constexpr int64_t k31 = int64_t{1} << 31;
  EXPECT_EQ(generation_positions(k31, 1, "g"), k31);
  EXPECT_EQ(generation_positions(1, k31, "g"), k31);
  test::expect_error([&] { generation_positions(k31 + 1, 0, "the prompt"); }, {"the prompt", "runs past 2147483648"});
  test::expect_error([&] { generation_positions(2, k31, "g"); }, {"runs past"});
  test::expect_error([] { generation_positions(1, std::numeric_limits<int64_t>::max(), "g"); }, {"runs past"});
  test::expect_error([] { generation_positions(std::numeric_limits<int64_t>::max(), 1, "g"); }, {"runs past"});
  test::expect_error([] { generation_positions(-1, 2, "g"); }, {"negative"});
  test::expect_error([] { generation_positions(2, -1, "g"); }, {"negative"});
}

}  // namespace
}  // namespace gqa
