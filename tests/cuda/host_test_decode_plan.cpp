// The decode split plan (kernels/cuda/attention_decode_plan.cpp): pure host arithmetic, so this
// runs in CI without a GPU (tests/cuda/host_test_*: label unit). One rank of Llama-3-70B at T=8
// and other shapes against a wave of 264 blocks (132 SMs x 2).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/attention_decode_mma.h"
#include "kernels/cuda/decode_group_layout.h"

namespace gqa {
namespace {

TEST(CudaAttentionPlan, SplitsFillTheDeviceWithinTheContext) {
  // One rank of Llama-3-70B at T=8 (8 q heads, 1 KV head), 132 SMs x 2 blocks.
  cuda::DecodePlan p = cuda::plan_decode(1, 1, 8, 32768, 264);
  EXPECT_EQ(p.head_chunk, 8);
  EXPECT_EQ(p.head_chunks, 1);
  EXPECT_GE(int64_t(p.num_splits) * p.tiles_per_split * cuda::kDecodeTileKeys, 32768);
  EXPECT_LE(p.num_splits, 264);
  EXPECT_GE(p.num_splits, 132);
  p = cuda::plan_decode(16, 1, 8, 100, 264);  // short context: at most one split per tile
  EXPECT_EQ(p.num_splits, 2);
  p = cuda::plan_decode(1, 1, 64, 5000, 264);  // MQA: 8 chunks of 8 heads
  EXPECT_EQ(p.head_chunks, 8);
  p = cuda::plan_decode(1, 4, 7, 1, 264);  // group 7 rounds up to one chunk of 8
  EXPECT_EQ(p.head_chunk, 8);
  EXPECT_EQ(p.num_splits, 1);
  p = cuda::plan_decode(1, 1, 2, 6400, 264, 3);  // forced
  EXPECT_EQ(p.num_splits, 3);
  EXPECT_EQ(p.head_chunk, 2);
  // Never a partial second wave: 16 tokens x 17 splits = 272 blocks would exceed 264 slots.
  p = cuda::plan_decode(16, 1, 8, 131072, 264);
  EXPECT_EQ(p.num_splits, 16);
  EXPECT_LE(p.blocks() * 16, 264);
  // The tensor-core kernel's chunk of 16 heads: Llama-3-70B's group of 8 in one block, MQA's 64 in 4.
  p = cuda::plan_decode(1, 1, 8, 32768, 264, 0, cuda::kDecodeMmaHeadChunk);
  EXPECT_EQ(p.head_chunk, 16);
  EXPECT_EQ(p.head_chunks, 1);
  p = cuda::plan_decode(1, 1, 64, 32768, 264, 0, cuda::kDecodeMmaHeadChunk);
  EXPECT_EQ(p.head_chunks, 4);
  // The cluster reduction: whole clusters of splits (extra splits empty), one partial per
  // cluster; not for a plan of several head chunks.
  p = cuda::plan_decode(1, 1, 8, 32768, 264, 7, cuda::kDecodeMmaHeadChunk, cuda::kDecodeCluster);
  EXPECT_EQ(p.cluster, cuda::kDecodeCluster);
  EXPECT_EQ(p.num_splits, 8);
  EXPECT_EQ(p.partials(), 1);
  p = cuda::plan_decode(1, 1, 8, 32768, 264, 0, cuda::kDecodeMmaHeadChunk, cuda::kDecodeCluster);
  EXPECT_EQ(p.num_splits % cuda::kDecodeCluster, 0);
  EXPECT_EQ(p.partials(), p.num_splits / cuda::kDecodeCluster);
  p = cuda::plan_decode(1, 1, 64, 32768, 264, 0, cuda::kDecodeMmaHeadChunk, cuda::kDecodeCluster);
  EXPECT_EQ(p.cluster, 0);
  EXPECT_EQ(p.partials(), p.num_splits);
  EXPECT_LE(p.blocks(), 264);
  // Clusters never push a plan past one wave, nor pad a plan of fewer splits than a cluster:
  // 32 tokens x 8 KV heads fill the wave with one split each (no clusters); 5 tokens at 32K
  // want 52 splits, padded to whole clusters within the 264 slots.
  p = cuda::plan_decode(32, 8, 8, 32768, 264, 0, cuda::kDecodeMmaHeadChunk, cuda::kDecodeCluster);
  EXPECT_EQ(p.cluster, 0);
  EXPECT_EQ(p.num_splits, 1);
  // The device's cluster slots cap a cluster plan (here 128 of the 264 blocks) ...
  p = cuda::plan_decode(1, 1, 8, 32768, 264, 0, cuda::kDecodeMmaHeadChunk, cuda::kDecodeCluster, 128);
  EXPECT_EQ(p.cluster, cuda::kDecodeCluster);
  EXPECT_LE(p.num_splits, 128);
  EXPECT_EQ(p.num_splits % cuda::kDecodeCluster, 0);
  // ... and where they leave less than a cluster of splits, the plan takes the whole wave unclustered.
  p = cuda::plan_decode(20, 1, 8, 32768, 264, 0, cuda::kDecodeMmaHeadChunk, cuda::kDecodeCluster, 100);
  EXPECT_EQ(p.cluster, 0);
  EXPECT_EQ(p.num_splits, 13);
  for (int64_t n : {1, 2, 3, 5, 7, 16, 33}) {
    for (int64_t ctx : {100, 700, 8192, 32768, 131072}) {
      p = cuda::plan_decode(n, 1, 8, ctx, 264, 0, cuda::kDecodeMmaHeadChunk, cuda::kDecodeCluster);
      EXPECT_LE(p.blocks() * n, 264) << n << " tokens, context " << ctx;
      EXPECT_GE(int64_t(p.num_splits) * p.tiles_per_split * cuda::kDecodeTileKeys, ctx);
      if (p.cluster > 0) {
        EXPECT_EQ(p.num_splits % p.cluster, 0);
      }
    }
  }
}

// Edges of the plan's arithmetic, each with the count it must give (mutation testing found each
// edge unchecked): more blocks without splitting than the wave holds; exactly one cluster's worth
// of slots; a context shorter than a cluster of tiles.
TEST(CudaAttentionPlan, EdgesOfTheWaveAndTheCluster) {
  // 64 tokens x 8 KV heads = 512 blocks without splitting, past the 264 slots: one split each
  // (the wanted count, 264 / 512, rounds to 0 and is clamped to 1: no division by zero).
  cuda::DecodePlan p = cuda::plan_decode(64, 8, 8, 4096, 264);
  EXPECT_EQ(p.num_splits, 1);
  EXPECT_EQ(p.tiles_per_split, 4096 / cuda::kDecodeTileKeys);
  p = cuda::plan_decode(64, 8, 8, 4096, 264, 0, cuda::kDecodeMmaHeadChunk, cuda::kDecodeCluster);
  EXPECT_EQ(p.num_splits, 1);
  EXPECT_EQ(p.cluster, 0);
  // 33 tokens: 264 / 33 = 8 slots a token, exactly one cluster of 8: clustered, one partial.
  static_assert(cuda::kDecodeCluster == 8, "the counts below assume clusters of 8");
  p = cuda::plan_decode(33, 1, 8, 32768, 264, 0, cuda::kDecodeMmaHeadChunk, cuda::kDecodeCluster);
  EXPECT_EQ(p.cluster, 8);
  EXPECT_EQ(p.num_splits, 8);
  EXPECT_EQ(p.partials(), 1);
  // A 100-token context has 2 tiles: 2 splits, not padded to a cluster of 8 mostly empty ones; at
  // 700 tokens (11 tiles, 11 splits wanted) one cluster of 8 splits of 2 tiles.
  p = cuda::plan_decode(1, 1, 8, 100, 264, 0, cuda::kDecodeMmaHeadChunk, cuda::kDecodeCluster);
  EXPECT_EQ(p.cluster, 0);
  EXPECT_EQ(p.num_splits, 2);
  p = cuda::plan_decode(1, 1, 8, 700, 264, 0, cuda::kDecodeMmaHeadChunk, cuda::kDecodeCluster);
  EXPECT_EQ(p.cluster, 8);
  EXPECT_EQ(p.num_splits, 8);
  EXPECT_EQ(p.tiles_per_split, 2);
}

// The fused merge: the tensor-core kernel's plans of more than one split; any count when the call
// asks, at most kDecodeFusedMergeMaxSplits (32) when only the process switch does.
TEST(CudaAttentionPlan, WhichPlansMergeInTheirLastBlock) {
  static_assert(cuda::kDecodeFusedMergeMaxSplits == 32, "the counts below assume 32");
  EXPECT_TRUE(cuda::decode_merge_fused(true, 32, false, true));
  EXPECT_TRUE(cuda::decode_merge_fused(true, 2, false, true));
  EXPECT_FALSE(cuda::decode_merge_fused(true, 33, false, true));
  EXPECT_TRUE(cuda::decode_merge_fused(true, 33, true, false));    // asked by the call: any count
  EXPECT_TRUE(cuda::decode_merge_fused(true, 256, true, true));
  EXPECT_FALSE(cuda::decode_merge_fused(true, 1, true, true));     // one split writes the output
  EXPECT_FALSE(cuda::decode_merge_fused(false, 8, true, true));    // not the CUDA-core kernel
  EXPECT_FALSE(cuda::decode_merge_fused(true, 8, false, false));   // neither asks
}

// The one-wave fused plan (an opt-in, GQA_DECODE_ONE_WAVE_FUSED=1): one block per SM's split count, fused,
// where it is 2 to kDecodeOneWaveFusedMaxSplits (8) and fills at least half the SMs.
TEST(CudaAttentionPlan, OneWaveFusedPlanWhereItServes) {
  static_assert(cuda::kDecodeOneWaveFusedMaxSplits == 8, "the counts below assume 8");
  constexpr int chunk = cuda::kDecodeMmaHeadChunk;
  // The 70B T=8 shard at batch 16 (the sweeps' shape): 132 / 16 = 8 splits, 128 blocks, fused.
  for (int64_t ctx : {8192, 32768, 131072}) {
    const auto p = cuda::plan_decode_one_wave_fused(16, 1, 8, ctx, 132, chunk);
    ASSERT_TRUE(p.has_value()) << ctx;
    EXPECT_EQ(p->num_splits, 8) << ctx;
    EXPECT_TRUE(p->fused_merge);
    EXPECT_GE(int64_t(p->num_splits) * p->tiles_per_split * cuda::kDecodeTileKeys, ctx);
    // the occupancy plan (2 blocks per SM) has twice the splits
    EXPECT_EQ(cuda::plan_decode(16, 1, 8, ctx, 264, 0, chunk).num_splits, 16) << ctx;
  }
  // The GPU tests' batch (OneWavePlanWhereSwitchedOn, OneWaveFusedPlanInGraphs: 16 sequences of at most
  // 5595 tokens) takes it on 132 SMs, so they do not skip on an H100 or H200.
  const auto tests_batch = cuda::plan_decode_one_wave_fused(16, 1, 8, 5595, 132, chunk);
  ASSERT_TRUE(tests_batch.has_value());
  EXPECT_EQ(tests_batch->num_splits, 8);
  // Llama-3-70B on one GPU (8 KV heads) at batch 2: 132 / 16 = 8 splits too.
  EXPECT_EQ(cuda::plan_decode_one_wave_fused(2, 8, 8, 32768, 132, chunk)->num_splits, 8);
  // 32 tokens: 4 splits (128 blocks).
  EXPECT_EQ(cuda::plan_decode_one_wave_fused(32, 1, 8, 32768, 132, chunk)->num_splits, 4);
  // Batch 1: 128-132 splits, past 8: the occupancy plan and the merge kernel.
  EXPECT_FALSE(cuda::plan_decode_one_wave_fused(1, 1, 8, 8192, 132, chunk).has_value());
  // 9 tokens: 14 splits, past 8.
  EXPECT_FALSE(cuda::plan_decode_one_wave_fused(9, 1, 8, 32768, 132, chunk).has_value());
  // Few blocks: a 500-token context at batch 1 has 8 tiles (8 splits, 8 blocks < 66).
  EXPECT_FALSE(cuda::plan_decode_one_wave_fused(1, 1, 8, 500, 132, chunk).has_value());
  // One split (133 tokens fill the SMs without splitting): nothing to merge.
  EXPECT_FALSE(cuda::plan_decode_one_wave_fused(133, 1, 8, 32768, 132, chunk).has_value());
  // A short context caps the splits at its tiles: 16 tokens of 100 keys, 2 tiles, 32 blocks < 66.
  EXPECT_FALSE(cuda::plan_decode_one_wave_fused(16, 1, 8, 100, 132, chunk).has_value());
  // Two head chunks (a group of 32) at batch 8: 132 / 16 = 8 splits, 128 blocks.
  const auto two = cuda::plan_decode_one_wave_fused(8, 1, 32, 32768, 132, chunk);
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->head_chunks, 2);
  EXPECT_EQ(two->num_splits, 8);
}

// The workspace layout: part_o, part_lse, then (fused merge only) one int32 counter per (token,
// KV head, head chunk); a plan of one partial needs none of it.
TEST(CudaAttentionPlan, PartialsLayoutCountsTheFusedMergeCounters) {
  cuda::DecodePlan p = cuda::plan_decode(3, 2, 32, 32768, 264, 9, cuda::kDecodeMmaHeadChunk);  // 2 chunks
  ASSERT_EQ(p.num_splits, 9);
  ASSERT_EQ(p.head_chunks, 2);
  cuda::DecodePartials parts = cuda::decode_partials_floats(3, 64, 2, 128, p);
  EXPECT_EQ(parts.lse_offset, size_t(3 * 64 * 9 * 128));
  EXPECT_EQ(parts.lse_floats, size_t(3 * 64 * 9));
  EXPECT_EQ(parts.counters, 0u);
  EXPECT_EQ(parts.total(), parts.lse_offset + parts.lse_floats);
  p.fused_merge = true;
  parts = cuda::decode_partials_floats(3, 64, 2, 128, p);
  EXPECT_EQ(parts.counter_offset, parts.lse_offset + parts.lse_floats);
  EXPECT_EQ(parts.counters, size_t(3 * 2 * 2));
  EXPECT_EQ(parts.total(), parts.counter_offset + parts.counters);
  p = cuda::plan_decode(3, 2, 32, 32768, 264, 1, cuda::kDecodeMmaHeadChunk);
  p.fused_merge = true;  // (the plan never sets it for one split; the layout has nothing to count)
  EXPECT_EQ(cuda::decode_partials_floats(3, 64, 2, 128, p).total(), 0u);
}

// Where the grouped loader (DecodeLoader::kGroups) fits: the tensor-core kernel's dtypes and head
// dims, one KV head in the cache, pages of a multiple of 8 keys.
TEST(CudaAttentionPlan, GroupedCopiesFit) {
  alignas(16) static char dummy[16];
  const auto args = [](DType dt, int64_t hkv, int64_t hd, int64_t block_size) {
    const auto dev = [](DType t, Shape s) { return Tensor::view(dummy, t, std::move(s), Device::kCuda); };
    AttentionArgs a;
    a.q = dev(dt, {2, 8, hd});
    a.k_cache = dev(dt, {4, block_size, hkv, hd});
    a.v_cache = a.k_cache;
    return a;
  };
  EXPECT_TRUE(cuda::decode_group_copies_fit(args(DType::kBF16, 1, 128, 16)));
  EXPECT_TRUE(cuda::decode_group_copies_fit(args(DType::kF16, 1, 64, 8)));
  EXPECT_TRUE(cuda::decode_group_copies_fit(args(DType::kBF16, 1, 128, 256)));
  EXPECT_FALSE(cuda::decode_group_copies_fit(args(DType::kBF16, 2, 128, 16)));  // rows of two heads interleave
  EXPECT_FALSE(cuda::decode_group_copies_fit(args(DType::kBF16, 1, 128, 4)));   // a group would straddle pages
  EXPECT_FALSE(cuda::decode_group_copies_fit(args(DType::kBF16, 1, 128, 12)));
  EXPECT_FALSE(cuda::decode_group_copies_fit(args(DType::kF32, 1, 128, 16)));   // the CUDA-core kernel's
  EXPECT_FALSE(cuda::decode_group_copies_fit(args(DType::kBF16, 1, 32, 16)));
}

// The grouped loader's layout (decode_group_layout.h): the 4 warps' 16 columns cover the stage's 64
// keys once; column n's row sits where the loader put that key (group (key - start) / 8 at
// j * kStride, row (key - start) % 8 at r * HD); the 8 rows of each ldmatrix matrix (columns
// 8i..8i+7, at any 16-byte-aligned column) start in 8 different 16-byte bank groups.
TEST(CudaAttentionPlan, GroupedLayoutCoversTheStageConflictFree) {
  for (int hd : {64, 128}) {
    const auto check = [&](auto rows) {
      constexpr int kStride = decltype(rows)::kStride;
      std::vector<int> seen(64, 0);
      const int start = 640;
      for (int w = 0; w < 4; ++w) {
        const cuda::GroupedKeys keys{start + 2 * w};
        const int warp_base = 2 * w * hd;  // the warp's tile pointer: row 2w of group 0
        for (int n = 0; n < 16; ++n) {
          // softmax_tile_keys skips the mask when column 15's key is visible: it must be the largest.
          EXPECT_LE(keys(n), keys(15)) << "n " << n;
          const int key = keys(n) - start;
          ASSERT_GE(key, 0);
          ASSERT_LT(key, 64);
          ++seen[key];
          EXPECT_EQ(warp_base + rows(n, 0), (key / 8) * kStride + (key % 8) * hd) << "hd " << hd << " n " << n;
        }
        for (int i = 0; i < 2; ++i) {
          for (int col = 0; col < hd; col += 8) {
            std::vector<int> banks;
            for (int n = 8 * i; n < 8 * i + 8; ++n) banks.push_back(((warp_base + rows(n, col)) * 2 / 16) % 8);
            std::sort(banks.begin(), banks.end());
            EXPECT_EQ(std::unique(banks.begin(), banks.end()), banks.end()) << "hd " << hd << " col " << col;
          }
        }
      }
      for (int k = 0; k < 64; ++k) EXPECT_EQ(seen[k], 1) << "hd " << hd << " key " << k;
    };
    if (hd == 64) check(cuda::GroupedRows<64>{});
    if (hd == 128) check(cuda::GroupedRows<128>{});
  }
}

// The one-wave plan's edges: exactly half the SMs filled (2 x 66 blocks = 132) takes it, one block
// fewer does not; 9 splits (past kDecodeOneWaveFusedMaxSplits) does not, 8 does.
TEST(CudaAttentionPlan, OneWaveFusedPlanEdges) {
  static_assert(cuda::kDecodeTileKeys == 64 && cuda::kDecodeOneWaveFusedMaxSplits == 8, "counts below");
  constexpr int chunk = cuda::kDecodeMmaHeadChunk;
  // 11 tokens, 6 tiles (384 keys): 6 splits (132 / 11 = 12, capped at 6 tiles), 66 blocks = 132 / 2.
  const auto half = cuda::plan_decode_one_wave_fused(11, 1, 8, 6 * 64, 132, chunk);
  ASSERT_TRUE(half.has_value());
  EXPECT_EQ(half->num_splits, 6);
  // 13 tokens, 5 tiles: 5 splits, 65 blocks < 66.
  EXPECT_FALSE(cuda::plan_decode_one_wave_fused(13, 1, 8, 5 * 64, 132, chunk).has_value());
  // 14 tokens at 32K: 132 / 14 = 9 splits: past 8.
  EXPECT_EQ(cuda::plan_decode(14, 1, 8, 32768, 132, 0, chunk).num_splits, 9);
  EXPECT_FALSE(cuda::plan_decode_one_wave_fused(14, 1, 8, 32768, 132, chunk).has_value());
  // 15 tokens: 8 splits, 120 blocks.
  const auto eight = cuda::plan_decode_one_wave_fused(15, 1, 8, 32768, 132, chunk);
  ASSERT_TRUE(eight.has_value());
  EXPECT_EQ(eight->num_splits, 8);
  EXPECT_THROW(cuda::plan_decode_one_wave_fused(16, 1, 8, 32768, 0, chunk), Error);  // no SMs
}

// The plan's refusals: an empty shape, negative chunk, cluster or slot counts, a grid past int32.
TEST(CudaAttentionPlan, RefusesWhatItCannotPlan) {
  EXPECT_THROW(cuda::plan_decode(1, 1, 8, 0, 264), Error);     // no context
  EXPECT_THROW(cuda::plan_decode(0, 1, 8, 100, 264), Error);   // no tokens
  EXPECT_THROW(cuda::plan_decode(1, 0, 8, 100, 264), Error);   // no KV heads
  EXPECT_THROW(cuda::plan_decode(1, 1, 0, 100, 264), Error);   // no group
  EXPECT_THROW(cuda::plan_decode(1, 1, 8, 100, 264, 0, -1), Error);
  EXPECT_THROW(cuda::plan_decode(1, 1, 8, 100, 264, 0, cuda::kDecodeMmaHeadChunk, -1), Error);
  EXPECT_THROW(cuda::plan_decode(1, 1, 8, 100, 264, 0, cuda::kDecodeMmaHeadChunk, cuda::kDecodeCluster, -1), Error);
  // 2 head chunks x INT32_MAX forced splits (a context of INT32_MAX tiles): past the grid.
  const int64_t tiles = std::numeric_limits<int32_t>::max();
  EXPECT_THROW(cuda::plan_decode(1, 1, 32, tiles * cuda::kDecodeTileKeys, 264, std::numeric_limits<int32_t>::max(),
                                 cuda::kDecodeMmaHeadChunk),
               Error);
  // one head chunk of as many splits is still a grid
  EXPECT_EQ(cuda::plan_decode(1, 1, 8, tiles * cuda::kDecodeTileKeys, 264, std::numeric_limits<int32_t>::max(),
                              cuda::kDecodeMmaHeadChunk).blocks(),
            tiles);
}

}  // namespace
}  // namespace gqa
