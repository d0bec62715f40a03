// The tensor-core flash prefill (kernels/cuda/attention_prefill_mma.h) against the CPU twin on
// random inputs (tests/cuda/attention_test_batch.h): every output element, relative error
// ||out - ref|| / ||ref|| < 1e-2 in bf16 and f16, outputs poisoned with NaN bytes first, NaN never
// passes. Prompt lengths 1, 15, 16, 17, 100, 777 (one tile, tile edges, many tiles) and 2000 in
// one batch of several sequences; chunked prefill (earlier positions already cached); tokens of
// several sequences interleaved; one token per sequence; MHA 8/8, GQA 8/2 and 64/8, MQA 8/1;
// head_dim 64 and 128; block sizes 16 and 32 with shuffled block tables.
// The host-side checks (dispatch predicate, refusals) run without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/attention_prefill_mma.h"
#include "kernels/cuda/device_info.h"
#include "tests/cuda/attention_test_batch.h"

namespace gqa {
namespace {

using attn_test::Batch;
using attn_test::Heads;
using attn_test::make_batch;
using attn_test::reference;
using attn_test::rel_error;
using attn_test::SeqSpec;

constexpr double kTol = 1e-2;

// Runs the mma kernel (or, with `via_dispatch`, cuda::attention) on the batch and returns out as f32.
std::vector<float> run_mma(const Batch& b, bool out_aliases_q = false, bool via_dispatch = false) {
  attn_test::DeviceBatch d(b);
  AttentionArgs a = d.args(b, out_aliases_q);
  if (via_dispatch) {
    a.one_token_per_seq = false;
    cuda::attention(a, nullptr);
  } else {
    cuda::attention_prefill_mma(a, nullptr);
  }
  return attn_test::download(a.out);
}

const std::vector<SeqSpec> kLengths = {{0, 1}, {0, 15}, {0, 16}, {0, 17}, {0, 100}, {0, 777}};

class CudaPrefillMma : public ::testing::TestWithParam<std::tuple<DType, Heads, int64_t, int64_t>> {};

// Several fresh prompts of different lengths in one batch.
TEST_P(CudaPrefillMma, PromptLengths) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const auto [dt, heads, hd, bs] = GetParam();
  Batch b = make_batch(dt, heads, hd, bs, kLengths, 31);
  EXPECT_LT(rel_error(run_mma(b), reference(b)), kTol);
}

// Chunked prefill: each sequence's chunk starts after cached context (chunk boundaries inside
// and on the edges of 64-key tiles and cache blocks), plus a one-token chunk.
TEST_P(CudaPrefillMma, ChunkedPrefill) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const auto [dt, heads, hd, bs] = GetParam();
  Batch b = make_batch(dt, heads, hd, bs, {{1000, 300}, {64, 64}, {5, 7}, {2047, 1}, {63, 33}}, 32);
  EXPECT_LT(rel_error(run_mma(b), reference(b)), kTol);
}

INSTANTIATE_TEST_SUITE_P(AllShapes, CudaPrefillMma, attn_test::prefill_shapes());

TEST(CudaPrefillMmaCases, Prompt2000) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (auto [dt, heads, hd, bs] : {std::tuple{DType::kBF16, Heads{8, 2}, int64_t{128}, int64_t{16}},
                                   std::tuple{DType::kF16, Heads{8, 1}, int64_t{64}, int64_t{32}},
                                   std::tuple{DType::kBF16, Heads{8, 8}, int64_t{64}, int64_t{32}}}) {
    Batch b = make_batch(dt, heads, hd, bs, {{0, 2000}, {0, 3}}, 33);
    EXPECT_LT(rel_error(run_mma(b), reference(b)), kTol)
        << dtype_name(dt) << " " << heads.hq << "/" << heads.hkv << " hd " << hd << " bs " << bs;
  }
}

// Tokens of several sequences in a random order: every row tile holds several sequences
// (one pass per sequence inside a block).
TEST(CudaPrefillMmaCases, InterleavedSequences) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (int64_t hd : {64, 128}) {
    for (Heads h : {Heads{8, 8}, Heads{8, 2}, Heads{8, 1}}) {
      Batch b = make_batch(DType::kBF16, h, hd, 16, {{0, 40}, {17, 60}, {3, 5}, {0, 1}, {100, 70}}, 34, true);
      EXPECT_LT(rel_error(run_mma(b), reference(b)), kTol) << "hd " << hd << " " << h.hq << "/" << h.hkv;
    }
  }
}

// Groups that do not divide the 128-row block (7, 3, 96: a token's heads straddle two blocks) and
// groups of a whole block or more (128, 192: one token fills or spans whole blocks), in order and
// interleaved.
TEST(CudaPrefillMmaCases, IrregularGroups) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (int64_t hd : {64, 128}) {
    for (Heads h : {Heads{28, 4}, Heads{12, 4}, Heads{96, 1}, Heads{128, 1}, Heads{192, 1}}) {
      for (bool shuffle : {false, true}) {
        Batch b = make_batch(DType::kBF16, h, hd, 16, {{0, 37}, {50, 20}, {0, 1}, {5, 11}}, 39, shuffle);
        EXPECT_LT(rel_error(run_mma(b), reference(b)), kTol)
            << "hd " << hd << " " << h.hq << "/" << h.hkv << " shuffled " << shuffle;
      }
    }
  }
}

// A short chunk at the end of a long context (~1100 key tiles per pass).
TEST(CudaPrefillMmaCases, ChunkAfterLongContext) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (auto [dt, hd] : {std::tuple{DType::kBF16, int64_t{128}}, std::tuple{DType::kF16, int64_t{64}}}) {
    Batch b = make_batch(dt, {8, 1}, hd, 16, {{70000, 5}, {0, 3}}, 40);
    EXPECT_LT(rel_error(run_mma(b), reference(b)), kTol) << dtype_name(dt) << " hd " << hd;
  }
}

// A decode-shaped batch (one token per sequence) is valid input too; here every token is its own pass.
TEST(CudaPrefillMmaCases, OneTokenPerSequence) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (int64_t hd : {64, 128}) {
    Batch b = make_batch(DType::kF16, {64, 8}, hd, 16, {{0, 1}, {16, 1}, {999, 1}, {64, 1}, {4000, 1}}, 35);
    EXPECT_LT(rel_error(run_mma(b), reference(b)), kTol) << "hd " << hd;
  }
}

TEST(CudaPrefillMmaCases, OutMayAliasQ) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (int64_t hd : {64, 128}) {
    Batch b = make_batch(DType::kBF16, {8, 2}, hd, 32, {{0, 100}, {30, 50}}, 36);
    EXPECT_LT(rel_error(run_mma(b, true), reference(b)), kTol) << "hd " << hd;
  }
}

// cuda::attention sends a bf16/f16 prefill with head_dim 64/128 here (and still gets it right).
TEST(CudaPrefillMmaCases, ThroughDispatcher) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  Batch b = make_batch(DType::kBF16, {8, 1}, 128, 16, {{0, 129}, {200, 64}}, 37);
  EXPECT_LT(rel_error(run_mma(b, false, true), reference(b)), kTol);
}

// A block table entry outside the cache poisons exactly the tokens whose keys reach it; a token
// with an out-of-range sequence index is poisoned; every other token is unaffected.
TEST(CudaPrefillMmaCases, BadDeviceDataGivesNaNForItsTokensOnly) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (int64_t hd : {64, 128}) {
    Batch b = make_batch(DType::kBF16, {8, 2}, hd, 16, {{0, 100}, {20, 30}}, 38);
    const std::vector<float> ref = reference(b);
    b.tables[0 * b.max_blocks + 3] = static_cast<int32_t>(b.num_blocks);  // sequence 0, keys 48..63
    b.token_seq[110] = static_cast<int32_t>(b.n_seqs());                   // a token of sequence 1
    const std::vector<float> out = run_mma(b);
    for (int64_t t = 0; t < b.n; ++t) {
      const std::vector<float> o = attn_test::token_rows(out, b, t);
      const bool poisoned = (b.token_seq[t] == 0 && b.positions[t] >= 48) || t == 110;
      if (poisoned) {
        EXPECT_TRUE(std::all_of(o.begin(), o.end(), [](float x) { return std::isnan(x); }))
            << "hd " << hd << " token " << t;
      } else {
        EXPECT_LT(rel_error(o, attn_test::token_rows(ref, b, t)), kTol) << "hd " << hd << " token " << t;
      }
    }
  }
}

// ---- host side (no GPU needed: nothing is launched) ----

AttentionArgs fake_args(DType dt, int64_t hd) { return attn_test::fake_args(dt, 8, 2, hd); }

TEST(CudaPrefillMmaArgs, SupportsBf16F16AtHeadDims64And128Only) {
  for (DType dt : {DType::kBF16, DType::kF16}) {
    for (int64_t hd : {64, 128}) EXPECT_TRUE(cuda::prefill_mma_supported(fake_args(dt, hd))) << hd;
    for (int64_t hd : {16, 32}) {
      EXPECT_FALSE(cuda::prefill_mma_supported(fake_args(dt, hd))) << hd;
      EXPECT_THROW(cuda::attention_prefill_mma(fake_args(dt, hd), nullptr), Error) << hd;
    }
  }
  EXPECT_FALSE(cuda::prefill_mma_supported(fake_args(DType::kF32, 128)));
  EXPECT_THROW(cuda::attention_prefill_mma(fake_args(DType::kF32, 128), nullptr), Error);
  AttentionArgs a = fake_args(DType::kBF16, 128);
  a.v_cache = Tensor::view(a.v_cache.data(), DType::kF16, a.v_cache.shape(), Device::kCuda);
  EXPECT_THROW(cuda::attention_prefill_mma(a, nullptr), Error);  // mixed dtypes
}

}  // namespace
}  // namespace gqa
