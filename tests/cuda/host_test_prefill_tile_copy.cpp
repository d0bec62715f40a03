// The tensor-core prefills' K/V tile copies (kernels/cuda/prefill_tile_copy.h): every 16-byte
// chunk of a tile is copied by exactly one thread, to the place the kernels' layouts give it, and
// a warp's copies stay coalesced. Host arithmetic only: runs in CI.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "kernels/cuda/prefill_tile_copy.h"

namespace gqa {
namespace {

// Every (key, chunk) of a keys x HD tile is copied exactly once by Copy's threads, each stepping
// from its first chunk by the constants the loader adds; place(key, chunk) checks its destination.
// Returns the tile's chunk count.
template <class Copy, int HD, class Place>
size_t check_covered(int keys, int threads, Place place) {
  std::vector<int> copies(size_t(keys) * (HD / 8), 0);
  for (int tid = 0; tid < threads; ++tid) {
    for (int ps = 0; ps < Copy::kPasses; ++ps) {
      for (int i = 0; i < Copy::kPerRow; ++i) {
        const int key = Copy::key(tid, ps), c = Copy::chunk(tid, i);
        const bool in_tile = key >= 0 && key < keys && c >= 0 && c < HD / 8;
        EXPECT_TRUE(in_tile) << "thread " << tid << " key " << key << " chunk " << c;
        if (!in_tile) continue;
        ++copies[size_t(key) * (HD / 8) + c];
        EXPECT_EQ(c, Copy::chunk(tid, 0) + i * Copy::kChunkStep);  // the loader's constant steps
        EXPECT_EQ(Copy::byte(key, c), Copy::byte(key, Copy::chunk(tid, 0)) + i * Copy::kByteStep);
        place(key, c);
      }
    }
  }
  for (size_t x = 0; x < copies.size(); ++x) EXPECT_EQ(copies[x], 1) << "hd " << HD << " key " << x / (HD / 8);
  return copies.size();
}

// The wgmma prefill's tiles: 128 keys, copied by its 256 consumer threads (basic and ping-pong
// builds) or its 128 producer threads (producer build).
template <int HD, int kThreads>
void check_core_tile() {
  using Copy = cuda::CoreTileCopy<HD, 128, kThreads>;
  std::set<uint32_t> bytes;
  const size_t chunks = check_covered<Copy, HD>(128, kThreads, [&](int key, int c) {
    // The no-swizzle core-matrix layout: chunk number (key / 8) * HD + 8c + key % 8 at byte 16x.
    EXPECT_EQ(Copy::byte(key, c), 16u * ((key / 8) * HD + 8 * c + key % 8)) << "key " << key << " chunk " << c;
    bytes.insert(Copy::byte(key, c));
  });
  EXPECT_EQ(bytes.size(), chunks);
  EXPECT_EQ(*bytes.rbegin(), 16u * (chunks - 1));  // the tile's bytes, no gap
  // One warp-wide copy (warp 3, pass 1, chunk step 1): 8 rows, 64 contiguous bytes each in global
  // memory (4 consecutive chunks), 512 contiguous bytes in shared memory.
  std::set<int> rows;
  std::vector<uint32_t> dst;
  for (int lane = 0; lane < 32; ++lane) {
    const int tid = 96 + lane;
    rows.insert(Copy::key(tid, 1));
    dst.push_back(Copy::byte(Copy::key(tid, 1), Copy::chunk(tid, 1)));
  }
  EXPECT_EQ(rows.size(), 8u);
  for (int r : rows) {
    std::vector<int> chunks;
    for (int lane = 0; lane < 32; ++lane) {
      if (Copy::key(96 + lane, 1) == r) chunks.push_back(Copy::chunk(96 + lane, 1));
    }
    std::sort(chunks.begin(), chunks.end());
    ASSERT_EQ(chunks.size(), 4u);
    EXPECT_EQ(chunks.back() - chunks.front(), 3) << "row " << r;
    EXPECT_EQ(chunks.front() % 4, 0) << "row " << r;  // 64-byte aligned: two whole sectors
  }
  std::sort(dst.begin(), dst.end());
  EXPECT_EQ(dst.back() - dst.front(), 31u * 16u);
}

// The mma.sync prefill's tiles: 64 keys, 256 threads, rows padded by 8 elements.
template <int HD>
void check_row_tile() {
  constexpr int kRow = HD + 8;
  using Copy = cuda::RowTileCopy<HD, 64, 256, kRow>;
  check_covered<Copy, HD>(64, 256, [&](int key, int c) { EXPECT_EQ(Copy::byte(key, c), 2u * (key * kRow + 8 * c)); });
  // One warp-wide copy: 4 rows, 8 consecutive chunks (128 bytes, one aligned line) each.
  for (int i = 0; i < Copy::kPerRow; ++i) {
    std::set<int> rows;
    for (int lane = 0; lane < 32; ++lane) rows.insert(Copy::key(32 + lane, 0));
    EXPECT_EQ(rows.size(), 4u);
    for (int lane = 0; lane < 32; ++lane) EXPECT_EQ(Copy::chunk(32 + lane, i) - 8 * i, lane % 8);
  }
}

// The wgmma prefill's swizzle build: 128-key tiles copied by its 128 producer threads into the
// 128-byte swizzle (wgmma's SWIZZLE_128B atoms of 8 rows x 128 bytes), and its q tile's placement.
template <int HD>
void check_swizzle_tile() {
  constexpr int kKeys = 128;
  using Copy = cuda::SwizzleTileCopy<HD, kKeys, 128>;
  std::set<uint32_t> bytes;
  const size_t chunks = check_covered<Copy, HD>(kKeys, 128, [&](int key, int c) {
    const uint32_t b = Copy::byte(key, c);
    // half c / 8, row `key` of 128 bytes, chunk slot (c % 8) ^ (key % 8) of the row
    EXPECT_EQ(b / (kKeys * 128u), uint32_t(c / 8)) << "key " << key << " chunk " << c;
    EXPECT_EQ(b % (kKeys * 128u) / 128u, uint32_t(key)) << "key " << key << " chunk " << c;
    EXPECT_EQ((b % 128u) / 16u, uint32_t((c % 8) ^ (key % 8))) << "key " << key << " chunk " << c;
    bytes.insert(b);
  });
  EXPECT_EQ(bytes.size(), chunks);
  EXPECT_EQ(*bytes.rbegin(), 16u * (chunks - 1));  // the tile's bytes, no gap
  // One warp-wide copy (warp 2, pass 3, copy i): 4 keys, each its 8 chunks of one half (128
  // contiguous bytes in global memory), 512 contiguous bytes in shared memory.
  for (int i = 0; i < Copy::kPerRow; ++i) {
    std::set<int> keys;
    std::vector<uint32_t> dst;
    for (int lane = 0; lane < 32; ++lane) {
      const int tid = 64 + lane;
      keys.insert(Copy::key(tid, 3));
      EXPECT_EQ(Copy::chunk(tid, i), lane % 8 + 8 * i);
      dst.push_back(Copy::byte(Copy::key(tid, 3), Copy::chunk(tid, i)));
    }
    EXPECT_EQ(keys.size(), 4u);
    EXPECT_EQ(*keys.rbegin() - *keys.begin(), 3);
    std::sort(dst.begin(), dst.end());
    EXPECT_EQ(dst.back() - dst.front(), 31u * 16u);
    EXPECT_EQ(std::set<uint32_t>(dst.begin(), dst.end()).size(), 32u);
  }
}

TEST(CudaPrefillTileCopy, SwizzledTilesAreCopiedOnceToTheirSwizzledPlaces) {
  check_swizzle_tile<64>();
  check_swizzle_tile<128>();
  // The atom's rule on its own: within 8 rows of one half, each row's 8 chunks take the 8 slots
  // of their 128 bytes, and one chunk column lands in 8 different slots (no two rows' chunk c in
  // the same 16 bytes of their rows: the bank groups differ).
  for (int c = 0; c < 8; ++c) {
    std::set<uint32_t> slots;
    for (int r = 0; r < 8; ++r) slots.insert(cuda::swizzle128_byte(r, c, 64) % 128u);
    EXPECT_EQ(slots.size(), 8u) << "chunk " << c;
  }
  EXPECT_EQ(cuda::swizzle128_byte(5, 9, 64), 64u * 128u + 5u * 128u + uint32_t((9 % 8) ^ 5) * 16u);
}

TEST(CudaPrefillTileCopy, WgmmaTilesAreCopiedOnceToTheirCoreMatrixPlaces) {
  check_core_tile<64, 256>();
  check_core_tile<128, 256>();
  check_core_tile<64, 128>();
  check_core_tile<128, 128>();
}

TEST(CudaPrefillTileCopy, MmaTilesAreCopiedOnceToTheirRows) {
  check_row_tile<64>();
  check_row_tile<128>();
}

}  // namespace
}  // namespace gqa
