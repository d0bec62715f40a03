// The tensor-core decode attention's grouped loader, the default where it fits (DecodeLoader::kGroups,
// GQA_DECODE_GROUP_COPIES: one cp.async.bulk per 8 consecutive keys' rows, the warps taking rows
// of 8 different groups) against the CPU twin: one KV head (the 70B T=8 shard's shape; groups of
// 1, 8, 16 and 64 query heads), head_dim 64/128, bf16/f16, pages of 8, 16 and 32 keys, contexts
// ending at every offset of a group and a tile, split counts from one to one per tile, with the
// merge kernel and the fused merge. Every cache row no token may see (past each sequence's end,
// and the pages no table names) holds NaN: the loader copies whole groups, so the tail of a
// sequence's last group lands in shared memory and must be masked (K) and zeroed (V); NaN in the
// output fails. Then the plan's fallbacks (more than one KV head, pages of 4 keys, 6 stages: one
// copy per row, still correct), the process switch, and a bad block-table entry poisoning its
// token only. A test executable of its own: the loader failing on a GPU leaves
// the default decode tests unaffected.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/attention_decode_mma.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_info.h"
#include "tests/cuda/attention_test_batch.h"

namespace gqa {
namespace {

using attn_test::Batch;
using attn_test::decode_batch;
using attn_test::DeviceBatch;
using attn_test::Heads;
using attn_test::make_batch;
using attn_test::reference;
using attn_test::rel_error;
using attn_test::run_decode;

double tolerance(DType dt) { return test::tolerance(dt, 1e-4); }

cuda::DecodeOptions group_options(int splits, bool fused_merge = false, int stages = 0) {
  cuda::DecodeOptions opt;
  opt.loader = cuda::DecodeLoader::kGroups;
  opt.num_splits = splits;
  opt.fused_merge = fused_merge;
  opt.stages = stages;
  return opt;
}

// NaN in every K and V row no token of the batch attends to: the slots past each sequence's
// context in its pages, and the blocks no table names. The reference never reads them.
void poison_unseen_rows(Batch& b, const std::vector<int>& contexts) {
  const int64_t row = b.hkv * b.hd;
  std::vector<bool> seen(static_cast<size_t>(b.num_blocks * b.block_size), false);
  for (size_t s = 0; s < contexts.size(); ++s) {
    for (int key = 0; key < contexts[s]; ++key) {
      const int32_t page = b.tables[s * b.max_blocks + key / b.block_size];
      seen[static_cast<size_t>(page * b.block_size + key % b.block_size)] = true;
    }
  }
  for (size_t slot = 0; slot < seen.size(); ++slot) {
    if (seen[slot]) continue;
    std::fill_n(b.k_cache.begin() + slot * row, row, NAN);
    std::fill_n(b.v_cache.begin() + slot * row, row, NAN);
  }
}

bool plans_groups(const Batch& b, const cuda::DecodeOptions& opt) {
  return cuda::describe_decode(DeviceBatch(b).args(b), opt).group_copies;
}

TEST(CudaAttentionDecodeGroups, MatchesReference) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  // (contexts ending at every offset within a group of 8: 1-8 and 3, 5 past a multiple of 8)
  const std::vector<int> contexts = {1, 2, 3, 4, 5, 6, 7, 8, 9, 63, 64, 65, 100, 1000, 5000, 4099, 837};
  uint32_t seed = 40;
  for (DType dt : {DType::kBF16, DType::kF16}) {
    for (int64_t hd : {64, 128}) {
      for (int64_t hq : {1, 8, 16, 64}) {
        // (24 and 40: block sizes the page divider's magic numbers serve that are not powers of
        // two; 128: a page longer than a 64-key stage; 256: the default page, kDefaultKvBlockSize)
        for (int64_t block_size : {8, 16, 24, 32, 40, 128, 256}) {
          Batch b = make_batch(dt, {hq, 1}, hd, block_size, decode_batch(contexts), seed++);
          const std::vector<float> ref = reference(b);
          poison_unseen_rows(b, contexts);
          const std::string what = std::string(dtype_name(dt)) + " hd " + std::to_string(hd) + " hq " +
                                   std::to_string(hq) + " block " + std::to_string(block_size);
          ASSERT_TRUE(plans_groups(b, group_options(0))) << what;
          for (int splits : {0, 1, 3, 1000}) {
            for (bool fused : {false, true}) {
              EXPECT_LT(rel_error(run_decode(b, group_options(splits, fused)), ref), tolerance(dt))
                  << what << " splits " << splits << (fused ? " fused merge" : "");
            }
          }
        }
      }
    }
  }
}

// Shapes the grouped copies do not serve take one copy per row, with the same results.
TEST(CudaAttentionDecodeGroups, FallsBackWhereItDoesNotFit) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const std::vector<int> contexts = {5, 64, 300};
  struct Case {
    Heads heads;
    int64_t block_size;
    int stages;
    const char* what;
  };
  for (const Case& c : {Case{{8, 2}, 16, 0, "two KV heads"}, Case{{8, 1}, 4, 0, "pages of 4 keys"},
                        Case{{8, 1}, 16, cuda::kDecodeMmaDeepStages, "6 stages"}}) {
    Batch b = make_batch(DType::kBF16, c.heads, 128, c.block_size, decode_batch(contexts), 60);
    const std::vector<float> ref = reference(b);
    const cuda::DecodeOptions opt = group_options(0, false, c.stages);
    EXPECT_FALSE(plans_groups(b, opt)) << c.what;
    EXPECT_TRUE(cuda::describe_decode(DeviceBatch(b).args(b), opt).bulk_copies) << c.what;
    EXPECT_LT(rel_error(run_decode(b, opt), ref), 1e-2) << c.what;
  }
}

// GQA_DECODE_GROUP_COPIES: the default loader takes the grouped copies where they fit.
TEST(CudaAttentionDecodeGroups, ProcessSwitch) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  Batch b = make_batch(DType::kBF16, {8, 1}, 128, 16, decode_batch({2000}), 70);
  const std::vector<float> ref = reference(b);
  const cuda::ScopedSwitch bulk(cuda::decode_bulk_enabled, cuda::set_decode_bulk, true);
  {
    const cuda::ScopedSwitch off(cuda::decode_group_copies_enabled, cuda::set_decode_group_copies, false);
    EXPECT_FALSE(plans_groups(b, {}));
  }
  const cuda::ScopedSwitch on(cuda::decode_group_copies_enabled, cuda::set_decode_group_copies, true);
  EXPECT_TRUE(plans_groups(b, {}));
  EXPECT_LT(rel_error(run_decode(b, {}), ref), 1e-2);
  cuda::DecodeOptions rows;
  rows.loader = cuda::DecodeLoader::kBulk;  // asked for by name: one copy per row
  EXPECT_FALSE(plans_groups(b, rows));
}

// A block-table entry outside the cache (below 0, or the first block past it) poisons its token.
TEST(CudaAttentionDecodeGroups, BadEntryPoisonsItsTokenOnly) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (bool negative : {true, false}) {
    attn_test::expect_bad_entry_poisons_one(group_options(0), 3, negative, 80, negative ? "entry -5" : "entry past the cache",
                                            {8, 1});
  }
}

}  // namespace
}  // namespace gqa
