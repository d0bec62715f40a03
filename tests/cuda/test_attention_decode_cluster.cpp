// The tensor-core decode kernel's opt-in cluster reduction (DecodeOptions::cluster_reduce,
// GQA_DECODE_CLUSTER; kernels/cuda/attention_decode.h) against the CPU twin on random paged
// batches: bf16/f16, head_dim 64/128, groups 1..8 (one head chunk; a group of 64 falls back to the
// plain reduction), split counts the plan chooses, 1, 7 and 9 (clusters with empty padding
// splits), 16 (two full clusters, one partial each) and 1000; a bad block table entry poisons its
// token only. A test executable of its own: an opt-in kernel that fails on its first GPU run
// leaves the default kernels' tests (test_attention.cpp) unaffected.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
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

std::vector<float> run_cluster(const Batch& b, int splits) {
  attn_test::DeviceBatch d(b);
  AttentionArgs a = d.args(b);
  cuda::DecodeOptions opt;
  opt.num_splits = splits;
  opt.cluster_reduce = true;
  cuda::attention_decode(a, nullptr, opt);
  return attn_test::download(a.out);
}

TEST(CudaAttentionDecodeCluster, MatchesReference) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (DType dt : {DType::kBF16, DType::kF16}) {
    for (int64_t hd : {64, 128}) {
      for (Heads h : {Heads{8, 1}, Heads{64, 8}, Heads{28, 4}, Heads{8, 8}, Heads{64, 1}}) {
        Batch b = make_batch(dt, h, hd, 16, decode_batch({1, 17, 1000, 5000, 20000}), 19);
        const std::vector<float> ref = reference(b);
        for (int splits : {0, 1, 7, 9, 16, 1000}) {
          EXPECT_LT(rel_error(run_cluster(b, splits), ref), test::tolerance(dt))
              << dtype_name(dt) << " hd " << hd << " heads " << h.hq << "/" << h.hkv << " splits " << splits;
        }
      }
    }
  }
}

TEST(CudaAttentionDecodeCluster, BadBlockEntryPoisonsItsTokenOnly) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  Batch b = make_batch(DType::kBF16, {8, 2}, 128, 16, decode_batch({40, 300, 17}), 24);
  const std::vector<float> ref = reference(b);
  b.tables[1 * b.max_blocks + 3] = static_cast<int32_t>(b.num_blocks);  // sequence 1, keys 48..63
  for (int splits : {0, 16}) {
    const std::vector<float> out = run_cluster(b, splits);
    for (int t = 0; t < 3; ++t) {
      const std::vector<float> o = attn_test::token_rows(out, b, t);
      if (t == 1) {
        EXPECT_TRUE(std::all_of(o.begin(), o.end(), [](float x) { return std::isnan(x); })) << "splits " << splits;
      } else {
        EXPECT_LT(rel_error(o, attn_test::token_rows(ref, b, t)), 1e-2) << "splits " << splits << " token " << t;
      }
    }
  }
}

}  // namespace
}  // namespace gqa
