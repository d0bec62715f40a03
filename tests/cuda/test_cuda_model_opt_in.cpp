// The whole model on one GPU with each kernel switch away from its default (kernels/cuda: the
// fused decode GEMVs off and on, the wgmma prefill in each build and the mma.sync prefill, the decode
// attention's cluster reduction, the L2 prefetch of the O and gate/up weights during decode attention,
// the decode attention without its K/V prefetch, its fused split merge, its per-row K/V copies, the norms fused
// into the decode GEMVs, the GEMVs' per-thread-load and ring builds, the persistent MLP kernel, the
// early PDL trigger and the trigger after the wait) against the
// transformers fixtures, with the bf16 criterion of test_cuda_model.cpp's MatchesTransformers. A
// test executable of its own: an opt-in kernel that fails on its first GPU run leaves the default
// path's model tests unaffected.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/attention_prefill_wgmma.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/gemv_rope.h"
#include "kernels/cuda/l2_prefetch.h"
#include "kernels/cuda/mlp_persistent.h"
#include "kernels/cuda/pdl.h"
#include "parallel/single_communicator.h"
#include "tests/support/model_fixture.h"

namespace gqa {
namespace {

const std::string kFixtureDir = "tests/fixtures/models/";

// Each fixture on one GPU at bf16 against transformers with MatchesTransformers' criterion (the
// caller has switched on what `label` names).
void expect_bf16_fixtures_match(const std::vector<std::string>& names, const std::string& label) {
  for (const std::string& name : names) {
    const std::string dir = kFixtureDir + name;
    SingleCommunicator comm;
    cuda::CudaOps ops(0, DType::kBF16);
    const test::FixtureReference ref = test::read_fixture_reference(dir);
    const GenerateResult res = test::run_fixture(dir, ref, ops, comm);
    test::expect_matches_reference(test::compare_to_reference(res, ref), res, ref, /*strict_tokens=*/false, 3e-2,
                                   name + " cuda bf16" + label, true);
  }
}

// expect_bf16_fixtures_match with PDL off, then on (", PDL" added to the label).
void expect_bf16_fixtures_match_pdl_off_and_on(const std::vector<std::string>& names, const std::string& label) {
  for (bool pdl : {false, true}) {
    const cuda::ScopedSwitch pdl_on(cuda::pdl_enabled, cuda::set_pdl, pdl);
    expect_bf16_fixtures_match(names, pdl ? label + ", PDL" : label);
  }
}

// The fused GEMVs (the default; gemv_swiglu: SwiGLU in the gate/up GEMV's epilogue;
// gemv_rope_kv_write: RoPE and the cache write in the QKV GEMV's epilogue), neither, each alone
// and both, against the
// transformers fixtures at bf16 (f16 is covered kernel-level in test_gemv.cpp and
// test_gemv_rope.cpp), with the criterion of MatchesTransformers; graphs on (the default).
TEST(CudaModelFusedGemv, MatchesTransformers) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (const auto& [swiglu, rope] :
       {std::pair{false, false}, std::pair{true, false}, std::pair{false, true}, std::pair{true, true}}) {
    const cuda::ScopedSwitch s(cuda::fused_swiglu_enabled, cuda::set_fused_swiglu, swiglu);
    const cuda::ScopedSwitch r(cuda::fused_rope_enabled, cuda::set_fused_rope, rope);
    expect_bf16_fixtures_match({"gqa", "qwen2_bias", "gqa_hd128", "mqa", "rope_yarn"},
                               std::string(swiglu ? " fused swiglu" : " unfused swiglu") +
                                   (rope ? " fused rope" : " unfused rope"));
  }
}

// The wgmma prefill (the default on an H100/H200: its TMA build's overlap variant) in each of its builds
// inside the whole model, on the fixtures whose head_dim it serves (64, 128), against transformers
// as MatchesTransformers; then the mma.sync prefill (GQA_PREFILL_WGMMA=0), the default elsewhere. On
// a GPU other than an H100/H200 the dispatcher keeps the mma.sync prefill and the test says so.
TEST(CudaModelWgmmaPrefill, MatchesTransformers) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  if (!cuda::prefill_wgmma_available()) GTEST_SKIP() << "not a compute capability 9.0 device (wgmma is sm_90a code)";
  for (cuda::PrefillWgmmaBuild b : cuda::kPrefillWgmmaBuilds) {
    const cuda::ScopedSwitch wgmma(cuda::prefill_wgmma_enabled, cuda::set_prefill_wgmma, true);
    const cuda::ScopedPrefillWgmmaBuild build(b);
    expect_bf16_fixtures_match({"gqa_hd128", "gqa_hd64"},
                               std::string(" wgmma prefill (") + cuda::prefill_wgmma_build_name(b) + " build)");
  }
  const cuda::ScopedSwitch mma(cuda::prefill_wgmma_enabled, cuda::set_prefill_wgmma, false);
  expect_bf16_fixtures_match({"gqa_hd128", "gqa_hd64"}, " mma.sync prefill");
}

// The opt-in cluster reduction of the decode attention's splits (GQA_DECODE_CLUSTER) inside the
// whole model, on the fixtures the tensor-core decode kernel serves (head_dim 64, 128), with CUDA
// graphs (bucketed plans: clusters of empty splits).
TEST(CudaModelDecodeCluster, MatchesTransformers) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const cuda::ScopedSwitch cluster(cuda::decode_cluster_enabled, cuda::set_decode_cluster, true);
  expect_bf16_fixtures_match({"gqa_hd128", "gqa_hd64"}, " decode cluster reduction");
}

// The opt-in L2 prefetch (GQA_L2_PREFETCH: a kernel between the KV write and the decode attention
// asking the L2 for the O and gate/up weights; PDL on, as it requires) inside the whole model with
// graphs: a hint, so the same results as without it, on fixtures of every attention kind.
TEST(CudaModelL2Prefetch, MatchesTransformers) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const cuda::ScopedSwitch pdl(cuda::pdl_enabled, cuda::set_pdl, true);
  const cuda::ScopedSwitch prefetch(cuda::l2_prefetch_enabled, cuda::set_l2_prefetch, true);
  expect_bf16_fixtures_match({"gqa", "mha", "mqa", "gqa_hd128", "qwen2_bias"}, " L2 prefetch");
}

// The decode attention without its K/V prefetch before pdl_wait (GQA_DECODE_KV_PREFETCH=0; the
// prefetch is the default since the twenty-ninth session, so every other model test runs with it)
// inside the whole model, with PDL and graphs, on the fixtures the tensor-core kernel serves: the
// path a user who switches it off takes.
TEST(CudaModelDecodeKvPrefetch, OffMatchesTransformers) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const cuda::ScopedSwitch pdl(cuda::pdl_enabled, cuda::set_pdl, true);
  const cuda::ScopedSwitch prefetch(cuda::decode_kv_prefetch_enabled, cuda::set_decode_kv_prefetch, false);
  expect_bf16_fixtures_match({"gqa_hd128", "gqa_hd64"}, " no decode K/V prefetch");
}

// The decode attention's opt-in fused split merge (GQA_DECODE_FUSED_MERGE: the last split block
// merges, no merge kernel) switched on for the whole model, with graphs and PDL off and on, on the
// fixtures the tensor-core decode kernel serves. Their contexts (at most 16 positions, a 64-key
// tile) plan one split, which the fused merge leaves as it is (no merge at all): this checks the
// switch's plumbing through the model; the merge itself, its graphs and a PDL successor reading
// its output are test_attention_decode_fused_merge.cpp's.
TEST(CudaModelDecodeFusedMerge, MatchesTransformers) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const cuda::ScopedSwitch fused(cuda::decode_fused_merge_enabled, cuda::set_decode_fused_merge, true);
  expect_bf16_fixtures_match_pdl_off_and_on({"gqa_hd128", "gqa_hd64"}, " decode fused merge");
}

// The add + RMSNorm before the QKV and gate/up projections as the fused GEMVs' prologue
// (GQA_FUSED_NORM; the model's residual stream then ping-pongs between two buffers) inside the
// whole model, with graphs and PDL off and on, on fixtures of every attention kind and a biased
// QKV: the prefill steps take the unfused pair, the decode steps the prologue.
TEST(CudaModelFusedNorm, MatchesTransformers) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const cuda::ScopedSwitch fused(cuda::fused_norm_enabled, cuda::set_fused_norm, true);
  expect_bf16_fixtures_match_pdl_off_and_on({"gqa", "mha", "mqa", "gqa_hd128", "qwen2_bias"}, " fused norm");
}

// The persistent MLP kernel (GQA_MLP_PERSISTENT: add + RMSNorm, gate/up + SwiGLU and down as one
// kernel) inside the whole model, with graphs and PDL off and on, on fixtures of every attention
// kind: the decode steps take it (one row, the norm into the other residual buffer), the prefill
// steps the unfused calls.
TEST(CudaModelMlpPersistent, MatchesTransformers) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const cuda::ScopedSwitch persistent(cuda::mlp_persistent_enabled, cuda::set_mlp_persistent, true);
  const int64_t launches = cuda::mlp_persistent_launches();
  expect_bf16_fixtures_match_pdl_off_and_on({"gqa", "mha", "mqa", "gqa_hd128", "qwen2_bias"}, " persistent MLP");
  EXPECT_GT(cuda::mlp_persistent_launches(), launches) << "the decode steps never took the persistent MLP kernel";
}

// The decode attention's grouped K/V copies (GQA_DECODE_GROUP_COPIES, the default) inside the whole
// model with graphs, on and off: gqa_hd128 has one KV head (the loader's shape; its short contexts
// end inside a group, so the group's tail rows are masked and zeroed); gqa_hd64's two KV heads take
// the per-row copies either way.
TEST(CudaModelDecodeGroupCopies, MatchesTransformers) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (bool on : {true, false}) {
    const cuda::ScopedSwitch groups(cuda::decode_group_copies_enabled, cuda::set_decode_group_copies, on);
    expect_bf16_fixtures_match({"gqa_hd128", "gqa_hd64"}, on ? " decode grouped copies" : " decode per-row copies");
  }
}

// The decode GEMVs' bulk-copy build (GQA_GEMV_BULK, the default: W rows through cp.async.bulk) and
// the per-thread-load build inside the whole model with graphs and PDL, on fixtures with and
// without the QKV bias.
TEST(CudaModelGemvBulk, MatchesTransformers) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (bool on : {true, false}) {
    const cuda::ScopedSwitch bulk(cuda::gemv_bulk_enabled, cuda::set_gemv_bulk, on);
    expect_bf16_fixtures_match({"gqa", "qwen2_bias", "gqa_hd128", "mqa"},
                               on ? " GEMV bulk copies" : " GEMV per-thread loads");
  }
}

// The early PDL trigger of the split merge and the RMSNorms (GQA_PDL_EARLY, the default) inside the
// whole model, PDL off and on (graphs recorded with each), with the default GEMVs and with the ring
// build; then the trigger after the wait (GQA_PDL_EARLY=0), the default before run 8.
TEST(CudaModelPdlEarly, MatchesTransformers) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  {
    const cuda::ScopedSwitch early(cuda::pdl_early_enabled, cuda::set_pdl_early, true);
    expect_bf16_fixtures_match_pdl_off_and_on({"gqa", "mha", "mqa", "gqa_hd128", "qwen2_bias"}, " early PDL trigger");
    const cuda::ScopedSwitch ring(cuda::gemv_ring_enabled, cuda::set_gemv_ring, true);
    expect_bf16_fixtures_match_pdl_off_and_on({"gqa_hd128", "qwen2_bias"}, " early PDL trigger, ring GEMVs");
  }
  const cuda::ScopedSwitch late(cuda::pdl_early_enabled, cuda::set_pdl_early, false);
  expect_bf16_fixtures_match_pdl_off_and_on({"gqa", "mha", "mqa", "gqa_hd128", "qwen2_bias"}, " PDL trigger after the wait");
}

// The decode GEMVs' opt-in ring build (GQA_GEMV_RING) inside the whole model with graphs and PDL,
// alone and with the norm prologue (GQA_FUSED_NORM: each resident block normalises x once).
TEST(CudaModelGemvRing, MatchesTransformers) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const cuda::ScopedSwitch ring(cuda::gemv_ring_enabled, cuda::set_gemv_ring, true);
  for (bool norm : {false, true}) {
    const cuda::ScopedSwitch fused(cuda::fused_norm_enabled, cuda::set_fused_norm, norm);
    expect_bf16_fixtures_match({"gqa", "qwen2_bias", "gqa_hd128", "mqa"}, norm ? " GEMV ring + norm" : " GEMV ring");
  }
}

// The fewest kernels a layer the opt-ins allow (gqa-bench's "5 kernels a layer" step column): the
// ring GEMVs with the norm prologue and the decode attention's fused merge, PDL off and on.
TEST(CudaModelFiveKernelsALayer, MatchesTransformers) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const cuda::ScopedSwitch ring(cuda::gemv_ring_enabled, cuda::set_gemv_ring, true);
  const cuda::ScopedSwitch norm(cuda::fused_norm_enabled, cuda::set_fused_norm, true);
  const cuda::ScopedSwitch merge(cuda::decode_fused_merge_enabled, cuda::set_decode_fused_merge, true);
  expect_bf16_fixtures_match_pdl_off_and_on({"gqa", "mqa", "gqa_hd128", "qwen2_bias"},
                                            " GEMV ring + norm prologue + fused merge");
}

}  // namespace
}  // namespace gqa
