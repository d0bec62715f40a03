// CUDA GQA attention (decode and prefill kernels) against the CPU twin on random inputs: every
// output element, relative error ||out - ref|| / ||ref|| with the reference computed (in double)
// on the inputs rounded to the kernel's dtype; f32 < 1e-4, f16/bf16 < 1e-2; NaN never passes.
// Paged caches use shuffled block tables (unused entries -1) and spare blocks; outputs are
// poisoned with 0xff (NaN) before each run. Head dims 16, 32 (the model test fixtures), 64 and 128.
// The argument checks run without a GPU too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/attention_decode_mma.h"
#include "kernels/cuda/attention_prefill.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/pdl.h"
#include "runtime/kv_page_size.h"
#include "tests/cuda/attention_test_batch.h"
#include "tests/cuda/cuda_test_util.h"

namespace gqa {
namespace {

using attn_test::Batch;
using attn_test::DeviceBatch;
using attn_test::download;
using attn_test::Heads;
using attn_test::make_batch;
using attn_test::reference;
using attn_test::rel_error;
using attn_test::SeqSpec;
using attn_test::token_rows;

double tolerance(DType dt) { return test::tolerance(dt, 1e-4); }

enum class Kernel { kAuto, kDecode, kPrefill };

// Runs one kernel on the batch (output poisoned first) and returns the output as f32.
std::vector<float> run(const Batch& b, Kernel kernel, const cuda::DecodeOptions& opt = {}, bool alias = false) {
  DeviceBatch d(b);
  AttentionArgs a = d.args(b, alias);
  if (kernel == Kernel::kAuto) {
    cuda::attention(a, nullptr);
  } else if (kernel == Kernel::kDecode) {
    cuda::attention_decode(a, nullptr, opt);
  } else {
    cuda::attention_prefill(a, nullptr);
  }
  return download(a.out);
}

using attn_test::decode_batch;
using attn_test::expect_bad_entry_poisons_one;

const std::vector<int> kDecodeContexts = {1, 17, 1000, 5000};

// ---- decode: dtype x heads x head_dim x block_size through cuda::attention ----

class CudaAttentionDecode : public ::testing::TestWithParam<std::tuple<DType, Heads, int64_t, int64_t>> {};

TEST_P(CudaAttentionDecode, MatchesCpuTwin) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const auto [dt, heads, hd, bs] = GetParam();
  Batch b = make_batch(dt, heads, hd, bs, decode_batch(kDecodeContexts), 11);
  const std::vector<float> ref = reference(b);
  EXPECT_LT(rel_error(run(b, Kernel::kAuto), ref), tolerance(dt));
}

INSTANTIATE_TEST_SUITE_P(
    AllShapes, CudaAttentionDecode,
    ::testing::Combine(::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                       ::testing::Values(Heads{8, 8}, Heads{8, 2}, Heads{64, 8}, Heads{8, 1}, Heads{64, 1},
                                         Heads{28, 4}, Heads{32, 2}, Heads{48, 2}),
                       ::testing::Values<int64_t>(16, 32, 64, 128), ::testing::Values<int64_t>(16, 32, 256)));
// (groups 16 and 24: one whole and one partial 16-head chunk of the tensor-core kernel)

// Forced split counts, from one split (no merge) to one tile per split.
TEST(CudaAttentionDecodeSplits, AnySplitCountMatches) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (DType dt : {DType::kF32, DType::kBF16}) {
    Batch b = make_batch(dt, {64, 8}, 128, 16, decode_batch(kDecodeContexts), 12);
    const std::vector<float> ref = reference(b);
    for (int splits : {1, 2, 7, 1000}) {
      EXPECT_LT(rel_error(run(b, Kernel::kDecode, {splits}), ref), tolerance(dt)) << "splits " << splits;
    }
  }
}

// Small head dims (model test fixtures: 16, 32): MHA / GQA / MQA, every dtype, forced split counts
// (the merge kernel runs for splits > 1).
TEST(CudaAttentionDecodeSplits, SmallHeadDimsAnySplitCount) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (int64_t hd : {16, 32}) {
    for (DType dt : {DType::kF32, DType::kF16, DType::kBF16}) {
      for (Heads h : {Heads{4, 4}, Heads{8, 2}, Heads{12, 1}, Heads{64, 1}}) {
        Batch b = make_batch(dt, h, hd, hd == 16 ? 16 : 32, decode_batch({1, 2, 63, 65, 129, 1000}), 16);
        const std::vector<float> ref = reference(b);
        for (int splits : {1, 2, 3, 16, 1000}) {
          EXPECT_LT(rel_error(run(b, Kernel::kDecode, {splits}), ref), tolerance(dt))
              << "hd " << hd << " " << dtype_name(dt) << " heads " << h.hq << "/" << h.hkv << " splits " << splits;
        }
      }
    }
  }
}

// The split merge with the early PDL trigger (GQA_PDL_EARLY, the default: it lets its successor
// launch before it waits for the decode kernel) and without it, PDL on, twice in a row on one stream.
TEST(CudaAttentionDecodeSplits, MergeWithEarlyPdlTrigger) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const cuda::ScopedSwitch pdl(cuda::pdl_enabled, cuda::set_pdl, true);
  Batch b = make_batch(DType::kBF16, {8, 1}, 128, 16, decode_batch(kDecodeContexts), 16);
  const std::vector<float> ref = reference(b);
  for (bool early_on : {true, false}) {
    const cuda::ScopedSwitch early(cuda::pdl_early_enabled, cuda::set_pdl_early, early_on);
    for (int splits : {5, 40}) {
      EXPECT_LT(rel_error(run(b, Kernel::kDecode, {splits}), ref), 1e-2)
          << "splits " << splits << (early_on ? ", early trigger" : ", trigger after the wait");
    }
  }
}

TEST(CudaAttentionDecodeSplits, CallerWorkspace) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  Batch b = make_batch(DType::kBF16, {8, 1}, 128, 32, decode_batch(kDecodeContexts), 15);
  DeviceBatch d(b);
  AttentionArgs a = d.args(b);  // a decode batch: one_token_per_seq
  cuda::DecodeOptions opt;
  opt.num_splits = 9;
  opt.workspace_bytes = cuda::decode_workspace_bytes(a, opt);
  ASSERT_GT(opt.workspace_bytes, 0u);
  Tensor ws = cuda::device_alloc(DType::kF32, {int64_t(opt.workspace_bytes / 4)});
  cuda::fill_bytes(ws, 0);  // (the fused merge's counters, under GQA_DECODE_FUSED_MERGE=1, start at zero)
  opt.workspace = ws.data();
  cuda::attention_decode(a, nullptr, opt);
  EXPECT_LT(rel_error(download(a.out), reference(b)), 1e-2);
  opt.workspace_bytes -= 4;
  EXPECT_THROW(cuda::attention_decode(a, nullptr, opt), Error);  // too small
}

// The decode kernel is correct for any batch, e.g. a prefill batch with several tokens per sequence.
TEST(CudaAttentionDecodeSplits, PrefillBatchThroughDecodeKernel) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (int64_t hd : {16, 128}) {
    Batch b = make_batch(DType::kBF16, {8, 2}, hd, 16, {{0, 7}, {300, 100}, {0, 1}}, 13, true);
    EXPECT_LT(rel_error(run(b, Kernel::kDecode), reference(b)), 1e-2) << "hd " << hd;
  }
}

// The tensor-core kernel reads its first block-table entries on the guess that token t is
// sequence t's (the decode layout), checked against token_seq[t]: here the one-token sequences'
// tokens come in a shuffled order, so most guesses miss (and the rest hold), with the grouped
// loader (one KV head) and the per-row one at 3 and 6 stages, several split counts: a wrong guess
// used would read another sequence's pages (shuffled), far off the reference. Then two tokens'
// sequence indices go bad (-1, and one past the sequences): those tokens' outputs are NaN, every
// other token's as before, with the guessing prologue in every build.
TEST(CudaAttentionDecodeSplits, TokensOutOfSequenceOrder) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  Batch b = make_batch(DType::kBF16, {8, 1}, 128, 16, decode_batch({40, 300, 17, 1000, 64, 129, 2000, 1}), 15, true);
  const std::vector<float> ref = reference(b);
  struct Build {
    cuda::DecodeLoader loader;
    int stages;
    const char* name;
  };
  const Build builds[] = {{cuda::DecodeLoader::kGroups, cuda::kDecodeMmaStages, "grouped loader"},
                          {cuda::DecodeLoader::kBulk, cuda::kDecodeMmaStages, "per-row loader"},
                          {cuda::DecodeLoader::kBulk, cuda::kDecodeMmaDeepStages, "per-row loader, 6 stages"}};
  const auto options = [](const Build& build, int splits) {
    cuda::DecodeOptions opt;
    opt.loader = build.loader;
    opt.stages = build.stages;
    opt.num_splits = splits;
    return opt;
  };
  for (const Build& build : builds) {
    for (int splits : {0, 1, 3}) {
      EXPECT_LT(rel_error(run(b, Kernel::kDecode, options(build, splits)), ref), 1e-2) << build.name << ", splits " << splits;
    }
  }
  Batch bad = b;
  const int64_t t_minus = 2, t_past = 5;  // (tokens 2 and 5: the guess would hold or miss alike)
  bad.token_seq[t_minus] = -1;
  bad.token_seq[t_past] = static_cast<int32_t>(bad.n_seqs());
  for (const Build& build : builds) {
    for (int splits : {0, 3}) {
      const std::vector<float> out = run(bad, Kernel::kDecode, options(build, splits));
      for (int64_t t = 0; t < bad.n; ++t) {
        const std::vector<float> o = token_rows(out, bad, t);
        const std::string what = std::string(build.name) + ", splits " + std::to_string(splits) + ", token " +
                                 std::to_string(t);
        if (t == t_minus || t == t_past) {
          EXPECT_TRUE(std::all_of(o.begin(), o.end(), [](float x) { return std::isnan(x); })) << what;
        } else {
          EXPECT_LT(rel_error(o, token_rows(ref, bad, t)), 1e-2) << what;
        }
      }
    }
  }
}

TEST(CudaAttentionDecodeSplits, OutMayAliasQ) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (int64_t hd : {32, 64}) {
    Batch b = make_batch(DType::kF16, {8, 2}, hd, 16, decode_batch(kDecodeContexts), 14);
    const std::vector<float> ref = reference(b);
    EXPECT_LT(rel_error(run(b, Kernel::kDecode, {}, true), ref), 1e-2) << "hd " << hd;
    EXPECT_LT(rel_error(run(b, Kernel::kDecode, {1}, true), ref), 1e-2) << "hd " << hd;
    EXPECT_LT(rel_error(run(b, Kernel::kPrefill, {}, true), ref), 1e-2) << "hd " << hd;
  }
}

// DecodeOptions for one build of the tensor-core kernel: pipeline depth, loader (bulk copies or
// cp.async), split count (0: the plan's) and the K/V prefetch asked for (on by default anyway:
// decode_kv_prefetch_enabled).
cuda::DecodeOptions build_options(int stages, bool bulk, int splits = 0, bool kv_prefetch = false) {
  cuda::DecodeOptions opt;
  opt.stages = stages;
  opt.loader = bulk ? cuda::DecodeLoader::kBulk : cuda::DecodeLoader::kCpAsync;
  opt.num_splits = splits;
  opt.kv_prefetch = kv_prefetch;
  return opt;
}

// The tensor-core kernel's builds (DecodeOptions: 3 or 6 pipeline stages, cp.async or bulk-copy loader) on
// the same cases as the default one: any dtype, head_dim 64/128, groups 1..64, split counts from
// one to one per tile; a bad block table entry poisons its token only; a depth that is not
// compiled is refused.
TEST(CudaAttentionDecodeSplits, PipelineVariantsMatch) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  // (The opt-in cluster reduction has its own test executable: test_attention_decode_cluster.cpp.)
  const std::vector<std::pair<int, bool>> variants = {{cuda::kDecodeMmaStages, false},
                                                      {cuda::kDecodeMmaDeepStages, false},
                                                      {cuda::kDecodeMmaStages, true},
                                                      {cuda::kDecodeMmaDeepStages, true}};
  for (DType dt : {DType::kBF16, DType::kF16}) {
    for (int64_t hd : {64, 128}) {
      for (Heads h : {Heads{8, 1}, Heads{64, 8}, Heads{28, 4}, Heads{8, 8}}) {
        Batch b = make_batch(dt, h, hd, 16, decode_batch({1, 17, 1000, 5000, 20000}), 19);
        const std::vector<float> ref = reference(b);
        for (const auto& [stages, bulk] : variants) {
          for (int splits : {0, 1, 7, 1000}) {
            EXPECT_LT(rel_error(run(b, Kernel::kDecode, build_options(stages, bulk, splits)), ref), tolerance(dt))
                << dtype_name(dt) << " hd " << hd << " heads " << h.hq << "/" << h.hkv << " splits " << splits
                << " stages " << stages << (bulk ? " bulk" : "");
          }
        }
      }
    }
  }
  for (const auto& [stages, bulk] : variants) {
    // sequence 1, keys 48..63: the first page past the cache
    expect_bad_entry_poisons_one(build_options(stages, bulk), 3, false, 24,
                                 "stages " + std::to_string(stages) + (bulk ? " bulk" : ""));
  }
  Batch b = make_batch(DType::kBF16, {8, 1}, 128, 16, decode_batch({100}), 20);
  cuda::DecodeOptions opt;
  opt.stages = 4;
  EXPECT_THROW(run(b, Kernel::kDecode, opt), Error);
}

// The tensor-core kernel's L2 prefetch of its first stages before pdl_wait (DecodeOptions::
// kv_prefetch; on by default, GQA_DECODE_KV_PREFETCH): a hint, so the same results with it and
// without it (the switch off, which every other decode test leaves on), either loader, 3 or 6
// stages, any split count, bf16 and f16, head_dim 64/128; a bad block table entry (below 0 or past
// the cache: skipped by the prefetch) still poisons its token only.
TEST(CudaAttentionDecodeSplits, KvPrefetchMatches) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (DType dt : {DType::kBF16, DType::kF16}) {
    for (int64_t hd : {64, 128}) {
      for (Heads h : {Heads{8, 1}, Heads{64, 8}}) {
        Batch b = make_batch(dt, h, hd, 16, decode_batch({1, 17, 1000, 5000}), 27);
        const std::vector<float> ref = reference(b);
        const DeviceBatch planned(b);  // (for describe_decode: uploaded once, not per case)
        const AttentionArgs planned_args = planned.args(b);
        for (int stages : {cuda::kDecodeMmaStages, cuda::kDecodeMmaDeepStages}) {
          for (bool bulk : {false, true}) {
            for (int splits : {0, 1, 7}) {
              for (bool prefetch : {true, false}) {
                const cuda::ScopedSwitch sw(cuda::decode_kv_prefetch_enabled, cuda::set_decode_kv_prefetch, prefetch);
                const cuda::DecodeOptions opt = build_options(stages, bulk, splits, /*kv_prefetch=*/prefetch);
                if (!prefetch) {
                  EXPECT_FALSE(cuda::describe_decode(planned_args, opt).kv_prefetch);
                }
                EXPECT_LT(rel_error(run(b, Kernel::kDecode, opt), ref), tolerance(dt))
                    << dtype_name(dt) << " hd " << hd << " heads " << h.hq << "/" << h.hkv << " stages " << stages
                    << " splits " << splits << (bulk ? " bulk" : "") << (prefetch ? " prefetch" : " no prefetch");
              }
            }
          }
        }
      }
    }
  }
  for (bool bulk : {false, true}) {
    for (bool negative : {true, false}) {  // sequence 1, keys 16..31: inside the first stage
      const cuda::DecodeOptions opt = build_options(cuda::kDecodeMmaStages, bulk, 0, /*kv_prefetch=*/true);
      expect_bad_entry_poisons_one(opt, 1, negative, 28,
                                   std::string(negative ? "entry -5" : "entry past the cache") + (bulk ? " bulk" : ""));
    }
  }
  Batch b = make_batch(DType::kBF16, {8, 2}, 128, 16, decode_batch({40}), 29);
  cuda::DecodeOptions opt;
  opt.kv_prefetch = true;
  EXPECT_TRUE(cuda::describe_decode(DeviceBatch(b).args(b), opt).kv_prefetch);
}

// Pads every sequence's block table to `width` entries (-1), as a recorded decode step does for its
// context bucket, so that max_context may exceed every token's position + 1.
void widen_tables(Batch& b, int64_t width) {
  const int64_t n_seqs = b.n_seqs();
  std::vector<int32_t> tables(static_cast<size_t>(n_seqs * width), -1);
  for (int64_t s = 0; s < n_seqs; ++s) {
    std::copy_n(b.tables.begin() + s * b.max_blocks, b.max_blocks, tables.begin() + s * width);
  }
  b.tables = tables;
  b.max_blocks = width;
}

// A graph-recorded decode step plans for a context bucket (max_context above every real
// context): most splits of most tokens are empty (o = 0, lse = -inf), and the merge must give
// them weight 0 without a NaN.
TEST(CudaAttentionDecodeSplits, BucketedMaxContextLeavesEmptySplits) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (DType dt : {DType::kF32, DType::kBF16}) {
    for (int64_t hd : {16, 128}) {
      Batch b = make_batch(dt, {8, 2}, hd, 16, decode_batch(kDecodeContexts), 17);
      widen_tables(b, 1024);
      b.max_context = 1024 * 16;
      const std::vector<float> ref = reference(b);
      EXPECT_LT(rel_error(run(b, Kernel::kAuto), ref), tolerance(dt)) << dtype_name(dt) << " hd " << hd;
      EXPECT_LT(rel_error(run(b, Kernel::kDecode, {200}), ref), tolerance(dt)) << dtype_name(dt) << " hd " << hd;
    }
  }
}

// 128K context (Llama-3-70B rank at T=8): ~100 splits, partial last tiles and empty splits for
// the shorter sequences of the batch.
TEST(CudaAttentionDecodeSplits, LongContext128K) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  Batch b = make_batch(DType::kBF16, {8, 1}, 128, 16, decode_batch({131072, 65537, 1}), 18);
  const std::vector<float> ref = reference(b);
  EXPECT_LT(rel_error(run(b, Kernel::kAuto), ref), 1e-2);
}

// Block sizes that are not powers of two (every paged loader finds a key's page by a multiply-high
// with a precomputed magic number, kernels/cuda/page_divider.h): decode with forced split counts
// (tensor-core and CUDA-core kernels: bf16 and f32) and prefill through cuda::attention (mma.sync
// for bf16 at head_dim 128; the CUDA-core prefill for f32), prompts after earlier cache content.
TEST(CudaAttentionBlockSizes, NotPowersOfTwo) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  uint32_t seed = 60;
  for (int64_t bs : {1, 5, 24, 40, 100}) {
    for (DType dt : {DType::kBF16, DType::kF32}) {
      const std::string what = "block " + std::to_string(bs) + " " + dtype_name(dt);
      Batch dec = make_batch(dt, {8, 1}, 128, bs, decode_batch({1, 17, 1000, 5000}), seed++);
      const std::vector<float> dec_ref = reference(dec);
      for (int splits : {0, 7}) {
        EXPECT_LT(rel_error(run(dec, Kernel::kDecode, {splits}), dec_ref), tolerance(dt))
            << what << " splits " << splits;
      }
      Batch pre = make_batch(dt, {8, 2}, 128, bs, {{0, 300}, {200, 77}, {5, 1}}, seed++);
      EXPECT_LT(rel_error(run(pre, Kernel::kAuto), reference(pre)), tolerance(dt)) << what << " prefill";
    }
  }
}

// ---- prefill: prompts of 1, 7, 100, 777 tokens, some after earlier cache content ----

const std::vector<SeqSpec> kPrompts = {{0, 1}, {5, 7}, {0, 100}, {300, 777}};

class CudaAttentionPrefill : public ::testing::TestWithParam<std::tuple<DType, Heads, int64_t>> {};

TEST_P(CudaAttentionPrefill, MatchesCpuTwin) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const auto [dt, heads, hd] = GetParam();
  Batch b = make_batch(dt, heads, hd, hd == 32 || hd == 64 ? 32 : 16, kPrompts, 21);
  EXPECT_LT(rel_error(run(b, Kernel::kAuto), reference(b)), tolerance(dt));
}

INSTANTIATE_TEST_SUITE_P(AllShapes, CudaAttentionPrefill,
                         ::testing::Combine(::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                                            ::testing::Values(Heads{8, 8}, Heads{8, 2}, Heads{8, 1}),
                                            ::testing::Values<int64_t>(16, 32, 64, 128)));

TEST(CudaAttentionPrefillCases, LargeGroups) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (int64_t hd : {16, 32, 128}) {
    for (Heads h : {Heads{64, 8}, Heads{64, 1}}) {
      Batch b = make_batch(DType::kBF16, h, hd, 16, {{0, 1}, {5, 7}, {40, 100}}, 22);
      EXPECT_LT(rel_error(run(b, Kernel::kPrefill), reference(b)), 1e-2) << "hd " << hd << " " << h.hq << "/" << h.hkv;
    }
  }
}

// Prompts on pages of kDefaultKvBlockSize tokens (gqa-generate's default since the eighteenth
// session): a prompt within one page, one across two, chunks after context, through whichever
// prefill kernel the dispatcher takes for the head_dim (CUDA cores, mma.sync, wgmma on an H100/H200).
TEST(CudaAttentionPrefillCases, DefaultPages) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (DType dt : {DType::kF32, DType::kBF16}) {
    for (int64_t hd : {16, 64, 128}) {
      for (Heads h : {Heads{8, 1}, Heads{8, 8}}) {
        Batch b = make_batch(dt, h, hd, kDefaultKvBlockSize, {{0, 1}, {0, 200}, {250, 40}, {300, 777}}, 26);
        EXPECT_LT(rel_error(run(b, Kernel::kAuto), reference(b)), tolerance(dt))
            << dtype_name(dt) << " hd " << hd << " " << h.hq << "/" << h.hkv;
      }
    }
  }
}

// Groups that do not divide the 32-token tile or the 8-head decode chunk (7, 3, 96).
TEST(CudaAttentionPrefillCases, IrregularGroups) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (Heads h : {Heads{28, 4}, Heads{12, 4}, Heads{96, 1}}) {
    Batch b = make_batch(DType::kF32, h, 32, 16, {{0, 37}, {50, 20}, {0, 1}}, 25, true);
    EXPECT_LT(rel_error(run(b, Kernel::kPrefill), reference(b)), 1e-4) << h.hq << "/" << h.hkv;
    EXPECT_LT(rel_error(run(b, Kernel::kDecode), reference(b)), 1e-4) << h.hq << "/" << h.hkv;
  }
}

// Tokens of several sequences interleaved: every 32-token tile holds several sequences.
TEST(CudaAttentionPrefillCases, InterleavedSequences) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (int64_t hd : {16, 32, 64}) {
    Batch b = make_batch(DType::kF32, {8, 2}, hd, 16, {{0, 40}, {17, 60}, {3, 5}, {0, 1}}, 23, true);
    EXPECT_LT(rel_error(run(b, Kernel::kPrefill), reference(b)), 1e-4) << "hd " << hd;
  }
}

// A block table entry outside the cache poisons that token's outputs (NaN), nothing else.
TEST(CudaAttentionPrefillCases, BadBlockTableEntryGivesNaNForItsTokenOnly) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (int64_t hd : {16, 128}) {
    for (Kernel k : {Kernel::kDecode, Kernel::kPrefill}) {
      Batch b = make_batch(DType::kBF16, {8, 2}, hd, 16, decode_batch({40, 300, 17}), 24);
      const std::vector<float> ref = reference(b);
      b.tables[1 * b.max_blocks + 3] = static_cast<int32_t>(b.num_blocks);  // sequence 1, keys 48..63
      const std::vector<float> out = run(b, k);
      for (int t = 0; t < 3; ++t) {
        const std::vector<float> o = token_rows(out, b, t);
        if (t == 1) {
          EXPECT_TRUE(std::all_of(o.begin(), o.end(), [](float x) { return std::isnan(x); }))
              << "hd " << hd << " token 1";
        } else {
          EXPECT_LT(rel_error(o, token_rows(ref, b, t)), 1e-2) << "hd " << hd << " token " << t;
        }
      }
    }
  }
}

// (The host-side argument checks, which need no GPU, are tests/cuda/host_test_attention_args.cpp: CI runs them.)

}  // namespace
}  // namespace gqa
