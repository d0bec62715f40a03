// Paged KV cache: block allocation order and reuse, slot arithmetic across block boundaries,
// the full-cache error (which leaves the cache unchanged), and freeing.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "kernels/cpu/cpu_ops.h"
#include "runtime/kv_cache.h"

namespace gqa {
namespace {

KvCacheShape shape(int64_t blocks, int64_t block_size) {
  KvCacheShape s;
  s.num_layers = 2;
  s.num_blocks = blocks;
  s.block_size = block_size;
  s.n_kv_heads_local = 2;
  s.head_dim = 8;
  return s;
}

TEST(BlockAllocator, HandsOutLowestFreeAndReuses) {
  BlockAllocator a(4);
  EXPECT_EQ(a.allocate(), 0);
  EXPECT_EQ(a.allocate(), 1);
  EXPECT_EQ(a.allocate(), 2);
  a.free(1);
  EXPECT_EQ(a.num_free(), 2);
  EXPECT_EQ(a.allocate(), 1);  // the freed block comes back first
  EXPECT_EQ(a.allocate(), 3);
  EXPECT_THROW(a.allocate(), KvCacheFull);
  EXPECT_THROW(a.free(7), Error);
  a.free(0);
  EXPECT_THROW(a.free(0), Error);  // double free
}

TEST(PagedKvCache, AllocatesTensorsPerLayer) {
  cpu::CpuOps ops;
  PagedKvCache c(shape(3, 4), DType::kF32, ops);
  EXPECT_EQ(c.k(0).shape(), (Shape{3, 4, 2, 8}));
  EXPECT_EQ(c.v(1).shape(), (Shape{3, 4, 2, 8}));
  EXPECT_THROW(c.k(2), Error);
}

TEST(PagedKvCache, SlotsFollowTheBlockTable) {
  cpu::CpuOps ops;
  PagedKvCache c(shape(8, 4), DType::kF32, ops);
  const int a = c.add_sequence(), b = c.add_sequence();
  EXPECT_EQ(c.append(a, 3), (std::vector<int32_t>{0, 1, 2}));            // block 0
  EXPECT_EQ(c.append(b, 5), (std::vector<int32_t>{4, 5, 6, 7, 8}));      // blocks 1, 2
  EXPECT_EQ(c.append(a, 3), (std::vector<int32_t>{3, 12, 13}));          // fills block 0, takes block 3
  EXPECT_EQ(c.block_table(a), (std::vector<int32_t>{0, 3}));
  EXPECT_EQ(c.block_table(b), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(c.length(a), 6);
  EXPECT_EQ(c.length(b), 5);
  EXPECT_TRUE(c.has_sequence(a));
  c.free_sequence(a);
  EXPECT_FALSE(c.has_sequence(a));
  EXPECT_TRUE(c.has_sequence(b));
  EXPECT_FALSE(c.has_sequence(b + 1));
}

TEST(PagedKvCache, FullCacheThrowsAndChangesNothing) {
  cpu::CpuOps ops;
  PagedKvCache c(shape(2, 4), DType::kF32, ops);
  const int a = c.add_sequence();
  c.append(a, 6);  // two blocks
  try {
    c.append(a, 3);
    FAIL() << "expected KvCacheFull";
  } catch (const KvCacheFull& e) {
    EXPECT_NE(std::string(e.what()).find("KV cache is full"), std::string::npos) << e.what();
  }
  EXPECT_EQ(c.length(a), 6);
  EXPECT_EQ(c.append(a, 2).size(), 2u);  // what still fits in the last block goes in
  EXPECT_THROW(c.append(a, 1), KvCacheFull);
}

TEST(PagedKvCache, FreedBlocksAreReusedByTheNextSequence) {
  cpu::CpuOps ops;
  PagedKvCache c(shape(3, 2), DType::kF32, ops);
  const int a = c.add_sequence();
  c.append(a, 6);
  EXPECT_EQ(c.allocator().num_free(), 0);
  c.free_sequence(a);
  EXPECT_EQ(c.allocator().num_free(), 3);
  EXPECT_THROW(c.length(a), Error);
  const int b = c.add_sequence();
  EXPECT_EQ(c.append(b, 6), (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
}

TEST(PagedKvCache, RefusesBadShapes) {
  cpu::CpuOps ops;
  EXPECT_THROW(PagedKvCache(shape(0, 4), DType::kF32, ops), Error);
  EXPECT_THROW(PagedKvCache(shape(4, 0), DType::kF32, ops), Error);
}

// A negative or huge count is a gqa::Error naming the call (std::length_error and a signed overflow
// before), and reserves nothing.
TEST(PagedKvCache, AppendRefusesCountsOutOfRange) {
  cpu::CpuOps ops;
  PagedKvCache cache(shape(4, 4), DType::kF32, ops);
  const int s = cache.add_sequence();
  cache.append(s, 3);
  for (const int64_t n : {int64_t{-3}, INT64_MAX, int64_t{INT32_MAX} - 2}) {
    try {
      cache.append(s, n);
      ADD_FAILURE() << "append " << n << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("KV cache append: " + std::to_string(n) + " positions"), std::string::npos)
          << e.what();
    }
  }
  // The longest append (to a length of exactly 2^31 - 1) is within range: it fails only for want
  // of blocks, as a full cache, and reserves nothing. (Mutation testing: "n < INT32_MAX - length"
  // passed.)
  EXPECT_THROW(cache.append(s, int64_t{INT32_MAX} - 3), KvCacheFull);
  EXPECT_EQ(cache.length(s), 3);
  EXPECT_THROW(cache.k(2), Error);  // (2 layers; std::out_of_range before)
  EXPECT_THROW(cache.v(-1), Error);
}

}  // namespace
}  // namespace gqa
