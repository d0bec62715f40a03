// The wgmma prefill's TMA build (kernels/cuda/prefill_tma_boxes.h): which block sizes its tiles
// come by TMA at, and that the boxes of a 128-key K/V tile, swizzled as the TMA unit's 128-byte
// swizzle does it (16-byte chunk bits 4-6 of the shared-memory address XOR its bits 7-9), put
// every (key, chunk) of the tile exactly once where the swizzle build's cp.async copies put it
// (swizzle128_byte: where the wgmma descriptors read it). Host arithmetic only: runs in CI.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cuda/prefill_tile_copy.h"
#include "kernels/cuda/prefill_tma_boxes.h"

namespace gqa {
namespace {

// The TMA unit's SWIZZLE_128B: chunk bits [4, 7) of the address XOR its 128-byte line bits [7, 10).
uint32_t tma_swizzle_128b(uint32_t addr) { return addr ^ (((addr >> 7) & 7u) << 4); }

TEST(CudaPrefillTmaBoxes, BlockSizesServedByBoxes) {
  for (int bs : {8, 16, 32, 64}) EXPECT_EQ(cuda::tma_box_rows(bs), bs) << bs;
  for (int bs : {128, 256, 384, 1024}) EXPECT_EQ(cuda::tma_box_rows(bs), 128) << bs;
  // Too short for a whole swizzle atom, not dividing the tile, or not whole tiles per page: cp.async.
  for (int bs : {1, 2, 4, 5, 24, 40, 48, 96, 200, 129, 320}) EXPECT_EQ(cuda::tma_box_rows(bs), 0) << bs;
}

TEST(CudaPrefillTmaBoxes, BoxesFillTheSwizzledTileOnce) {
  for (int hd : {64, 128}) {
    for (int bs : {8, 16, 32, 64, 128, 256}) {
      const int rows = cuda::tma_box_rows(bs);
      ASSERT_GT(rows, 0);
      const int boxes = cuda::tma_boxes_per_tile(rows, hd);
      std::vector<int> copies(size_t(cuda::kTmaTileKeys) * (hd / 8), 0);
      uint32_t box_bytes = 0;
      for (int b = 0; b < boxes; ++b) {
        const cuda::TmaBox box = cuda::tma_box(b, rows, hd);
        const std::string what = "hd " + std::to_string(hd) + " block " + std::to_string(bs) + " box " + std::to_string(b);
        EXPECT_EQ(box.byte % 1024u, 0u) << what;  // a whole number of swizzle atoms from an aligned tile
        EXPECT_EQ(box.dim % cuda::kTmaBoxDims, 0) << what;
        EXPECT_EQ(box.key % rows, 0) << what;
        // The box's keys lie on one page, from the offset the kernel gives the TMA (key % bs): a
        // tile starts at a multiple of 128 keys.
        for (int start : {0, 128, 384, 1024}) {
          const int first = start + box.key;
          EXPECT_EQ(first / bs, (first + rows - 1) / bs) << what << " tile at " << start;
          EXPECT_LE(first % bs + rows, bs) << what << " tile at " << start;
        }
        for (int i = 0; i < rows; ++i) {      // box row = key box.key + i
          for (int c = 0; c < 8; ++c) {       // 16-byte chunk c of the box row = dims box.dim + 8c..
            const uint32_t linear = box.byte + uint32_t(i) * 128u + uint32_t(c) * 16u;  // before the swizzle
            const int key = box.key + i, chunk = box.dim / 8 + c;
            ASSERT_LT(key, cuda::kTmaTileKeys) << what;
            EXPECT_EQ(tma_swizzle_128b(linear), cuda::swizzle128_byte(key, chunk, cuda::kTmaTileKeys))
                << what << " key " << key << " chunk " << chunk;
            ++copies[size_t(key) * (hd / 8) + chunk];
          }
        }
        box_bytes += uint32_t(rows) * 128u;
      }
      for (size_t x = 0; x < copies.size(); ++x) {
        EXPECT_EQ(copies[x], 1) << "hd " << hd << " block " << bs << " key " << x / (hd / 8) << " chunk " << x % (hd / 8);
      }
      EXPECT_EQ(box_bytes, uint32_t(cuda::kTmaTileKeys) * hd * 2u) << "hd " << hd << " block " << bs;  // the tile's bytes
    }
  }
}

}  // namespace
}  // namespace gqa
