// The tensor-core decode kernel's opt-in cluster reduction (DecodeOptions::cluster_reduce,
// GQA_DECODE_CLUSTER; kernels/cuda/attention_decode.h) against the CPU twin on random paged
// batches: bf16/f16, head_dim 64/128, groups 1..8 (one head chunk; a group of 64 falls back to the
// plain reduction), split counts the plan chooses, 1, 7 and 9 (clusters with empty padding
// splits), 16 (two full clusters, one partial each) and 1000; a bad block table entry poisons its
// token only. A test executable of its own: an opt-in kernel that fails on its first GPU run
// leaves the default kernels' tests (test_attention.cpp) unaffected.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/device_info.h"
#include "tests/cuda/attention_test_batch.h"

namespace gqa {
namespace {

using attn_test::Batch;
using attn_test::decode_batch;
using attn_test::Heads;
using attn_test::make_batch;
using attn_test::reference;
using attn_test::rel_error;

cuda::DecodeOptions cluster_options(int splits) {
  cuda::DecodeOptions opt;
  opt.num_splits = splits;
  opt.cluster_reduce = true;
  return opt;
}

TEST(CudaAttentionDecodeCluster, MatchesReference) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (DType dt : {DType::kBF16, DType::kF16}) {
    for (int64_t hd : {64, 128}) {
      for (Heads h : {Heads{8, 1}, Heads{64, 8}, Heads{28, 4}, Heads{8, 8}, Heads{64, 1}}) {
        Batch b = make_batch(dt, h, hd, 16, decode_batch({1, 17, 1000, 5000, 20000}), 19);
        const std::vector<float> ref = reference(b);
        for (int splits : {0, 1, 7, 9, 16, 1000}) {
          EXPECT_LT(rel_error(attn_test::run_decode(b, cluster_options(splits)), ref), test::tolerance(dt))
              << dtype_name(dt) << " hd " << hd << " heads " << h.hq << "/" << h.hkv << " splits " << splits;
        }
      }
    }
  }
}

TEST(CudaAttentionDecodeCluster, BadBlockEntryPoisonsItsTokenOnly) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (int splits : {0, 16}) {  // sequence 1, keys 48..63: the first page past the cache
    attn_test::expect_bad_entry_poisons_one(cluster_options(splits), 3, false, 24, "splits " + std::to_string(splits));
  }
}

}  // namespace
}  // namespace gqa
