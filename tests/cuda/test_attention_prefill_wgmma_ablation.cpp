// The wgmma prefill's ablated producer and TMA builds (kernels/cuda/attention_prefill_wgmma_ablation.h),
// a timing aid, each build the same way: every mask launches and finishes; mask 0 (the build itself), the one that
// only drops the warpgroups' turn-keeping, the rotated tile order (the same arithmetic in
// another order) and the TMA build's late turns, softmax under the previous P V and that without
// turns still compute the attention of the CPU twin (the turns change no bit) (a variant compiled to the build itself would pass that too:
// launch/sass_check.py tells those two from it); masks that drop arithmetic do not (so such a mask
// cannot silently run the full kernel); masks outside the list or not of the build (the producer
// build has no late turns or overlap), other dtypes and head dims are refused. The launches need a
// compute capability 9.0 GPU (sm_90a code): those tests skip elsewhere.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "kernels/cuda/attention_prefill_wgmma.h"
#include "kernels/cuda/attention_prefill_wgmma_ablation.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_info.h"
#include "tests/cuda/attention_test_batch.h"

namespace gqa {
namespace {

using attn_test::Batch;
using attn_test::make_batch;
using attn_test::reference;
using attn_test::rel_error;

constexpr double kTol = 1e-2;

#define GQA_SKIP_WITHOUT_WGMMA()                                                                               \
  do {                                                                                                         \
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";                                           \
    if (!cuda::prefill_wgmma_available()) GTEST_SKIP() << "not a compute capability 9.0 device (sm_90a code)"; \
  } while (0)

// The builds whose ablated kernels run: both, or the one GQA_TEST_ABLATION_BUILD names (producer |
// tma: gpu-check runs each in a process of its own, so a trap in the TMA build's unrun masks, which
// poisons the process's context, cannot fail the producer build's).
std::vector<bool> tma_builds_under_test() {
  const char* env = std::getenv("GQA_TEST_ABLATION_BUILD");
  const std::string only = env != nullptr ? env : "";
  if (only.empty()) return {false, true};
  if (only == "producer") return {false};
  if (only == "tma") return {true};
  ADD_FAILURE() << "GQA_TEST_ABLATION_BUILD=" << only << ": expected producer or tma";
  return {};
}

// Chunks after cached context and a fresh prompt, 8 q heads on 1 KV head (the benchmarked shape).
Batch ablation_batch() {
  return make_batch(DType::kBF16, {8, 1}, 128, 16, {{0, 300}, {700, 200}, {129, 64}}, 61);
}

std::vector<float> run_ablated(const Batch& b, unsigned skip, bool tma) {
  attn_test::DeviceBatch d(b);
  AttentionArgs a = d.args(b, false);
  a.one_token_per_seq = false;
  cuda::attention_prefill_wgmma_ablated(a, skip, nullptr, tma);
  GQA_CUDA_CHECK(cudaDeviceSynchronize());
  return attn_test::download(a.out);
}

TEST(CudaPrefillWgmmaAblation, EveryVariantThatIsStillTheAttentionComputesIt) {
  GQA_SKIP_WITHOUT_WGMMA();
  Batch b = ablation_batch();
  const std::vector<float> ref = reference(b);
  for (bool tma : tma_builds_under_test()) {
    for (unsigned skip : {0u, unsigned(cuda::kAblateTurns), unsigned(cuda::kRotateTiles), unsigned(cuda::kLateTurns),
                          unsigned(cuda::kOverlapPv), unsigned(cuda::kOverlapPv | cuda::kAblateTurns)}) {
      if (!cuda::prefill_ablation_applies(skip, tma)) {
        EXPECT_THROW(run_ablated(b, skip, tma), Error) << cuda::prefill_ablation_name(skip) << ", producer build";
        continue;
      }
      EXPECT_LT(rel_error(run_ablated(b, skip, tma), ref), kTol)
          << cuda::prefill_ablation_name(skip) << (tma ? ", TMA build" : ", producer build");
    }
  }
}

// The turns only order the two warpgroups' tensor-core issues; each warpgroup's arithmetic is the
// same: the default build's consumers (kOverlapPv) give the same bits with and without them, as the
// TMA build does.
TEST(CudaPrefillWgmmaAblation, TurnsChangeNoBit) {
  GQA_SKIP_WITHOUT_WGMMA();
  for (bool tma : tma_builds_under_test()) {
    if (!tma) continue;  // (the TMA build's variants)
    for (int seed : {61, 62}) {
      Batch b = make_batch(DType::kBF16, {8, 1}, 128, 16, {{0, 300}, {700, 200}, {129, 64}, {0, 1000}}, seed);
      for (unsigned with : {0u, unsigned(cuda::kOverlapPv)}) {
        const std::vector<float> turns = run_ablated(b, with, true);
        const std::vector<float> none = run_ablated(b, with | cuda::kAblateTurns, true);
        ASSERT_EQ(turns.size(), none.size());
        size_t differ = 0;
        for (size_t i = 0; i < turns.size(); ++i) differ += !(turns[i] == none[i]);
        EXPECT_EQ(differ, 0u) << cuda::prefill_ablation_name(with | cuda::kAblateTurns) << " against "
                              << cuda::prefill_ablation_name(with) << ", seed " << seed;
      }
    }
  }
}

TEST(CudaPrefillWgmmaAblation, EveryMaskRunsAndThoseDroppingArithmeticDiffer) {
  GQA_SKIP_WITHOUT_WGMMA();
  Batch b = ablation_batch();
  const std::vector<float> ref = reference(b);
  for (bool tma : tma_builds_under_test()) {
    for (unsigned skip : cuda::kPrefillAblations) {
      if (!cuda::prefill_ablation_applies(skip, tma)) continue;  // (refused: the test above)
      const std::vector<float> out = run_ablated(b, skip, tma);  // throws on a launch or device error
      // (Copies alone left out may leave an earlier launch's tiles in shared memory: no claim then.)
      if (skip & (cuda::kAblateSoftmax | cuda::kAblateQk | cuda::kAblatePv)) {
        EXPECT_FALSE(rel_error(out, ref) < kTol)
            << cuda::prefill_ablation_name(skip) << (tma ? ", TMA build" : ", producer build") << " computed the attention";
      }
    }
  }
}

TEST(CudaPrefillWgmmaAblation, RefusesMasksNotInTheList) {
  GQA_SKIP_WITHOUT_WGMMA();
  Batch b = ablation_batch();
  for (unsigned skip : {unsigned(cuda::kAblateQk), unsigned(cuda::kAblateSoftmax | cuda::kAblateTurns),
                        unsigned(cuda::kLateTurns | cuda::kRotateTiles), unsigned(cuda::kOverlapPv | cuda::kAblateCopies),
                        256u}) {
    for (bool tma : tma_builds_under_test()) {
      EXPECT_THROW(run_ablated(b, skip, tma), Error) << skip << (tma ? ", TMA build" : ", producer build");
    }
  }
}

// ---- host side (no GPU needed: nothing is launched) ----

TEST(CudaPrefillWgmmaAblationArgs, RefusesOtherDtypesAndHeadDims) {
  EXPECT_THROW(cuda::attention_prefill_wgmma_ablated(attn_test::fake_args(DType::kF16, 8, 1, 128), 0, nullptr), Error);
  EXPECT_THROW(cuda::attention_prefill_wgmma_ablated(attn_test::fake_args(DType::kBF16, 8, 1, 64), 0, nullptr), Error);
  EXPECT_THROW(cuda::attention_prefill_wgmma_ablated(attn_test::fake_args(DType::kF32, 8, 1, 128), 0, nullptr), Error);
  EXPECT_THROW(cuda::attention_prefill_wgmma_ablated(attn_test::fake_args(DType::kF16, 8, 1, 128), 0, nullptr, true), Error);
}

// The mask is checked before anything is launched (so also on an empty batch, and without a GPU).
TEST(CudaPrefillWgmmaAblationArgs, RefusesMasksBeforeLaunching) {
  const AttentionArgs a = attn_test::fake_args(DType::kBF16, 8, 1, 128);
  const auto message = [&](unsigned skip, bool tma) -> std::string {
    try {
      cuda::attention_prefill_wgmma_ablated(a, skip, nullptr, tma);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_NE(message(256u, true).find("no ablated build for mask 256"), std::string::npos) << message(256u, true);
  EXPECT_NE(message(unsigned(cuda::kLateTurns | cuda::kRotateTiles), false).find("no ablated build"), std::string::npos);
  for (unsigned skip : {unsigned(cuda::kLateTurns), unsigned(cuda::kOverlapPv)}) {
    const std::string m = message(skip, false);
    EXPECT_NE(m.find("the producer build has no kernel for mask " + std::to_string(skip)), std::string::npos) << m;
  }
}

TEST(CudaPrefillWgmmaAblationArgs, NamesSayWhatIsLeftOut) {
  EXPECT_EQ(cuda::prefill_ablation_name(0), "full");
  EXPECT_EQ(cuda::prefill_ablation_name(cuda::kAblateCopies | cuda::kAblateSoftmax), "no copies + no softmax");
  EXPECT_EQ(cuda::prefill_ablation_name(cuda::kAblateTurns), "no turns");
  EXPECT_EQ(cuda::prefill_ablation_name(cuda::kRotateTiles), "rotated tiles");
  EXPECT_EQ(cuda::prefill_ablation_name(cuda::kLateTurns), "turns passed after the wait");
  EXPECT_EQ(cuda::prefill_ablation_name(cuda::kOverlapPv), "softmax under the previous P V");
  EXPECT_EQ(cuda::prefill_ablation_name(cuda::kOverlapPv | cuda::kAblateTurns), "softmax under the previous P V + no turns");
  EXPECT_TRUE(cuda::prefill_ablation_applies(cuda::kOverlapPv | cuda::kAblateTurns, true));
  EXPECT_FALSE(cuda::prefill_ablation_applies(cuda::kOverlapPv | cuda::kAblateTurns, false));
  EXPECT_TRUE(cuda::prefill_ablation_applies(cuda::kOverlapPv, true));
  EXPECT_FALSE(cuda::prefill_ablation_applies(cuda::kOverlapPv, false));
  EXPECT_TRUE(cuda::prefill_ablation_applies(cuda::kLateTurns, true));
  EXPECT_FALSE(cuda::prefill_ablation_applies(cuda::kLateTurns, false));
  EXPECT_TRUE(cuda::prefill_ablation_applies(cuda::kRotateTiles, false));
  std::set<std::string> names;
  for (unsigned skip : cuda::kPrefillAblations) {
    EXPECT_NE(skip, 0u);
    EXPECT_TRUE(names.insert(cuda::prefill_ablation_name(skip)).second) << skip;
  }
}

}  // namespace
}  // namespace gqa
