// The decode graphs' context bound (src/model/context_bucket.h): a power of two of keys from 64,
// never below the context, and below twice the context past the smallest bucket, whatever the
// page size (the bound counted 4 pages before: 1024 keys at 256-token pages).
#include <gtest/gtest.h>

#include <cstdint>

#include "model/context_bucket.h"

namespace gqa {
namespace {

TEST(ContextBucket, SmallestBucketIsOneTile) {
  EXPECT_EQ(context_bucket(1), 64);
  EXPECT_EQ(context_bucket(64), 64);
  EXPECT_EQ(context_bucket(65), 128);
  EXPECT_EQ(context_bucket(300), 512);   // one 256-token page and a bit: not 4 pages (1024)
  EXPECT_EQ(context_bucket(1000), 1024);
}

TEST(ContextBucket, PowerOfTwoWithinTwiceTheContext) {
  for (int64_t c = 1; c <= (int64_t{1} << 20); c = c * 3 / 2 + 1) {
    const int64_t b = context_bucket(c);
    EXPECT_GE(b, c) << c;
    EXPECT_EQ(b & (b - 1), 0) << c;
    if (c > kMinContextBucket) {
      EXPECT_LT(b, 2 * c) << c;
    }
  }
  EXPECT_EQ(context_bucket(131072), 131072);
  EXPECT_EQ(context_bucket(131073), 262144);
}

}  // namespace
}  // namespace gqa
