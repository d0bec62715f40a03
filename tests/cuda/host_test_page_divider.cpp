// The paged-attention loaders' division-free key -> page (kernels/cuda/page_divider.h): the same
// arithmetic runs on the host, so this checks it in CI against key / block_size.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cuda/page_divider.h"

namespace gqa {
namespace {

constexpr int kMaxKey = INT32_MAX;

void expect_divides(int block_size, int key) {
  const cuda::PageDivider d = cuda::PageDivider::make(block_size);
  ASSERT_EQ(d.divide(key), key / block_size) << "key " << key << " block size " << block_size;
}

TEST(CudaPageDivider, EverySmallBlockSizeOverTheFirstKeys) {
  for (int bs = 1; bs <= 300; ++bs) {
    const cuda::PageDivider d = cuda::PageDivider::make(bs);
    for (int key = 0; key < 20000; ++key) ASSERT_EQ(d.divide(key), key / bs) << "key " << key << " block size " << bs;
  }
}

TEST(CudaPageDivider, KeysNearTheTopAndAroundMultiples) {
  std::vector<int> sizes = {1, 2, 3, 5, 7, 16, 17, 31, 64, 100, 255, 256, 1000, 4096, 65535, 65536, 1 << 20,
                            (1 << 30) - 1, 1 << 30, (1 << 30) + 1, kMaxKey - 1, kMaxKey};
  for (int bs : sizes) {
    for (int key : {0, 1, bs - 1, bs, kMaxKey, kMaxKey - 1, kMaxKey - bs, kMaxKey / 2}) {
      if (key >= 0) expect_divides(bs, key);
    }
    // Around the last multiples of bs below 2^31: where a too-small multiplier would fall short.
    const int64_t top = (int64_t(kMaxKey) / bs) * bs;
    for (int64_t k = top - 2; k <= top + 1 && k <= kMaxKey; ++k) {
      if (k >= 0) expect_divides(bs, static_cast<int>(k));
    }
  }
}

TEST(CudaPageDivider, RandomKeysAndSizes) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> key_dist(0, kMaxKey);
  for (int i = 0; i < 2000; ++i) {
    const int bs = std::uniform_int_distribution<int>(1, i % 2 ? 4096 : kMaxKey)(rng);
    const cuda::PageDivider d = cuda::PageDivider::make(bs);
    for (int j = 0; j < 200; ++j) {
      const int key = key_dist(rng);
      ASSERT_EQ(d.divide(key), key / bs) << "key " << key << " block size " << bs;
    }
  }
}

}  // namespace
}  // namespace gqa
