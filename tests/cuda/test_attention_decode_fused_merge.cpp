// The tensor-core decode kernel's fused split merge (DecodeOptions::fused_merge,
// GQA_DECODE_FUSED_MERGE, the one-wave fused plan; kernels/cuda/attention_decode.h): the last split block of each (token,
// KV head, head chunk) merges the partials, counted in by arrival counters that it resets. Against
// the CPU twin on random paged batches of sequences of different lengths: bf16/f16, head_dim
// 64/128, groups 1..64 (one to four head chunks), both loaders and pipeline depths, split counts
// the plan chooses, 1 (no merge at all), 2, 7, 9, 16 and 1000 (most splits empty); outputs
// poisoned before every run; repeated calls on one workspace, a call of a bigger shape between
// them (the counters are the stream's, wherever a workspace's partials go), the per-stream counters of calls without a workspace (and their growth), CUDA graph
// replays (recorded before and after the stream's counters exist, with and without PDL), a bad
// block table entry, a second call reading the first's output under PDL; the rejected combination
// with the cluster reduction; the one-wave fused plan where its switch (an opt-in) is on.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/attention_decode_mma.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/pdl.h"
#include "tests/cuda/attention_test_batch.h"
#include "tests/support/expect_error.h"

namespace gqa {
namespace {

using attn_test::Batch;
using attn_test::decode_batch;
using attn_test::DeviceBatch;
using attn_test::download;
using attn_test::Heads;
using attn_test::make_batch;
using attn_test::reference;
using attn_test::rel_error;

const std::vector<int> kContexts = {1, 17, 1000, 5000, 20000};

cuda::DecodeOptions fused_options(int splits, cuda::DecodeLoader loader = cuda::DecodeLoader::kDefault,
                                  int stages = 0) {
  cuda::DecodeOptions opt;
  opt.num_splits = splits;
  opt.loader = loader;
  opt.stages = stages;
  opt.fused_merge = true;
  return opt;
}

std::string loader_name(cuda::DecodeLoader l) {
  return l == cuda::DecodeLoader::kBulk ? "bulk" : l == cuda::DecodeLoader::kCpAsync ? "cp.async" : "default";
}

TEST(CudaAttentionDecodeFusedMerge, PlanAndWorkspace) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  Batch b = make_batch(DType::kBF16, {64, 1}, 128, 16, decode_batch({700, 5000}), 30);
  const DeviceBatch d(b);
  const AttentionArgs a = d.args(b);
  // (whatever GQA_DECODE_FUSED_MERGE says: the plain plans below must not merge)
  const cuda::ScopedSwitch off(cuda::decode_fused_merge_enabled, cuda::set_decode_fused_merge, false);
  for (int splits : {0, 1, 9}) {
    const cuda::DecodePlan plan = cuda::describe_decode(a, fused_options(splits));
    EXPECT_EQ(plan.fused_merge, plan.num_splits > 1) << "splits " << splits;  // one split: nothing to merge
    const size_t bytes = cuda::decode_workspace_bytes(a, fused_options(splits));
    cuda::DecodeOptions plain;
    plain.num_splits = splits;
    const size_t plain_bytes = cuda::decode_workspace_bytes(a, plain);
    // The counters: one per (token, KV head, head chunk) = 2 x 1 x 4 (a group of 64).
    EXPECT_EQ(bytes, plan.fused_merge ? plain_bytes + 2 * 4 * sizeof(int32_t) : plain_bytes) << "splits " << splits;
  }
  {  // the process switch asks for it for calls that do not, up to kDecodeFusedMergeMaxSplits splits
    const cuda::ScopedSwitch on(cuda::decode_fused_merge_enabled, cuda::set_decode_fused_merge, true);
    for (int splits : {0, 9, cuda::kDecodeFusedMergeMaxSplits, cuda::kDecodeFusedMergeMaxSplits + 1, 70}) {
      cuda::DecodeOptions o;
      o.num_splits = splits;
      const cuda::DecodePlan plan = cuda::describe_decode(a, o);
      EXPECT_EQ(plan.fused_merge, plan.num_splits > 1 && plan.num_splits <= cuda::kDecodeFusedMergeMaxSplits)
          << "splits " << splits << ", planned " << plan.num_splits;
    }
    EXPECT_TRUE(cuda::describe_decode(a, fused_options(70)).fused_merge);  // asked for: any count
  }
  EXPECT_FALSE(cuda::describe_decode(a, cuda::DecodeOptions{}).fused_merge);  // off by default
  // The CUDA-core kernel (f32) has no fused merge: the merge kernel serves it.
  Batch f = make_batch(DType::kF32, {8, 2}, 128, 16, decode_batch({5000}), 31);
  const DeviceBatch df(f);
  EXPECT_FALSE(cuda::describe_decode(df.args(f), fused_options(9)).fused_merge);
  EXPECT_LT(rel_error(attn_test::run_decode(f, fused_options(9)), reference(f)), test::tolerance(DType::kF32, 1e-4));
}

// The one-wave fused plan (switched on: GQA_DECODE_ONE_WAVE_FUSED, an opt-in): a batch of
// sequences of the 70B T=8 shard's heads (8 q, 1 KV) takes plan_decode_one_wave_fused's split
// count on this device, fused, and matches the CPU twin; with the switch off, or a loader or split
// count asked for, the occupancy plan and the merge kernel, matching too. 16 sequences (gqa-bench's
// batch) where this device's SM count gives them a one-wave plan (132 SMs: 8 splits), else
// ceil(SMs / 8) (at most 8 splits a sequence).
TEST(CudaAttentionDecodeFusedMerge, OneWavePlanWhereSwitchedOn) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const int64_t sms = cuda::current_sm_count();
  constexpr int kMaxContext = 5595;
  const auto one_wave = [&](int64_t n) {
    return cuda::plan_decode_one_wave_fused(n, 1, 8, kMaxContext, sms, cuda::kDecodeMmaHeadChunk);
  };
  const int64_t n = one_wave(16) ? 16 : (sms + cuda::kDecodeOneWaveFusedMaxSplits - 1) / cuda::kDecodeOneWaveFusedMaxSplits;
  const std::optional<cuda::DecodePlan> want = one_wave(n);
  if (!want) GTEST_SKIP() << sms << " SMs: no one-wave plan at 16 or " << n << " sequences";
  std::vector<int> contexts;
  for (int64_t i = 0; i < n; ++i) contexts.push_back(kMaxContext - int((173 * i) % 2600));  // (ragged, the first 5595)
  for (DType dt : {DType::kBF16, DType::kF16}) {
    Batch b = make_batch(dt, {8, 1}, 128, 16, decode_batch(contexts), 41);
    const std::vector<float> ref = reference(b);
    const DeviceBatch d(b);
    const AttentionArgs a = d.args(b);
    ASSERT_EQ(a.max_context, kMaxContext);
    const cuda::ScopedSwitch fused_off(cuda::decode_fused_merge_enabled, cuda::set_decode_fused_merge, false);
    {
      const cuda::ScopedSwitch on(cuda::decode_one_wave_fused_enabled, cuda::set_decode_one_wave_fused, true);
      const cuda::DecodePlan plan = cuda::describe_decode(a);
      EXPECT_TRUE(plan.fused_merge);
      EXPECT_EQ(plan.num_splits, want->num_splits);
      EXPECT_LT(rel_error(attn_test::run_decode(b, cuda::DecodeOptions{}), ref), test::tolerance(dt)) << dtype_name(dt);
      cuda::DecodeOptions cp_async;
      cp_async.loader = cuda::DecodeLoader::kCpAsync;  // a loader asked for: the occupancy plan
      EXPECT_FALSE(cuda::describe_decode(a, cp_async).fused_merge);
      cuda::DecodeOptions forced;
      forced.num_splits = want->num_splits;  // a count asked for: the merge kernel
      EXPECT_FALSE(cuda::describe_decode(a, forced).fused_merge);
    }
    const cuda::ScopedSwitch off(cuda::decode_one_wave_fused_enabled, cuda::set_decode_one_wave_fused, false);
    const cuda::DecodePlan plan = cuda::describe_decode(a);
    EXPECT_FALSE(plan.fused_merge);
    EXPECT_GE(plan.num_splits, want->num_splits);  // (the occupancy plan: 15 on an H200, two blocks a SM)
    EXPECT_LT(rel_error(attn_test::run_decode(b, cuda::DecodeOptions{}), ref), test::tolerance(dt)) << dtype_name(dt);
  }
}

TEST(CudaAttentionDecodeFusedMerge, MatchesReference) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (DType dt : {DType::kBF16, DType::kF16}) {
    for (int64_t hd : {64, 128}) {
      // (40/2: groups of 20, a full head chunk of 16 and a partial one)
      for (Heads h : {Heads{8, 1}, Heads{64, 8}, Heads{28, 4}, Heads{8, 8}, Heads{64, 1}, Heads{40, 2}}) {
        Batch b = make_batch(dt, h, hd, 16, decode_batch(kContexts), 19);
        const std::vector<float> ref = reference(b);
        for (cuda::DecodeLoader loader : {cuda::DecodeLoader::kCpAsync, cuda::DecodeLoader::kBulk}) {
          for (int splits : {0, 1, 2, 7, 9, 16, 1000}) {
            // (run_decode: no workspace, so the counters of the default stream, reused call after call)
            EXPECT_LT(rel_error(attn_test::run_decode(b, fused_options(splits, loader)), ref), test::tolerance(dt))
                << dtype_name(dt) << " hd " << hd << " heads " << h.hq << "/" << h.hkv << " " << loader_name(loader)
                << " splits " << splits;
          }
        }
      }
    }
  }
}

TEST(CudaAttentionDecodeFusedMerge, DeepPipeline) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (int64_t hd : {64, 128}) {
    Batch b = make_batch(DType::kBF16, {64, 8}, hd, 16, decode_batch(kContexts), 20);
    const std::vector<float> ref = reference(b);
    for (cuda::DecodeLoader loader : {cuda::DecodeLoader::kCpAsync, cuda::DecodeLoader::kBulk}) {
      for (int splits : {0, 9, 1000}) {
        EXPECT_LT(rel_error(attn_test::run_decode(b, fused_options(splits, loader, cuda::kDecodeMmaDeepStages)), ref),
                  1e-2)
            << "hd " << hd << " " << loader_name(loader) << " splits " << splits;
      }
    }
  }
}

// A caller's workspace: four calls in a row (output poisoned before each), each right, call 2
// with the merge kernel instead (same plan, same workspace); then a call of a bigger shape (four
// tokens: its partials cover where the first plan's counters would sit if they lived in the
// workspace, as a first draft had them) and the first shape again. The counters are the stream's
// (reset by each call: a stale count would leave the output unwritten, poisoned).
TEST(CudaAttentionDecodeFusedMerge, CallerWorkspaceReused) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (int64_t hq : {8, 64}) {
    Batch b = make_batch(DType::kBF16, {hq, 2}, 128, 32, decode_batch({3000, 40, 12000}), 21);
    Batch big = make_batch(DType::kBF16, {hq, 2}, 128, 32, decode_batch({12000, 3000, 500, 7000}), 22);
    const std::vector<float> ref = reference(b), ref_big = reference(big);
    DeviceBatch d(b), d_big(big);
    const AttentionArgs a = d.args(b), a_big = d_big.args(big);
    for (int splits : {0, 12}) {
      cuda::DecodeOptions opt = fused_options(splits);
      opt.workspace_bytes = std::max(cuda::decode_workspace_bytes(a, opt), cuda::decode_workspace_bytes(a_big, opt));
      ASSERT_GT(opt.workspace_bytes, 0u);
      const Tensor ws = cuda::device_alloc(DType::kF32, {int64_t(opt.workspace_bytes / 4)});
      cuda::fill_bytes(ws, 0xff);  // nothing in it needs zeroing
      opt.workspace = ws.data();
      const std::string what = "hq " + std::to_string(hq) + " splits " + std::to_string(splits);
      for (int call = 0; call < 6; ++call) {
        cuda::DecodeOptions o = opt;
        o.fused_merge = call != 2;  // call 2: the merge kernel, same plan, same workspace
        const bool other = call == 4;
        const AttentionArgs& args = other ? a_big : a;
        cuda::fill_bytes(args.out, 0xff);
        cuda::attention_decode(args, nullptr, o);
        EXPECT_LT(rel_error(download(args.out), other ? ref_big : ref), 1e-2) << what << " call " << call;
      }
      opt.workspace_bytes = cuda::decode_workspace_bytes(a, opt) - 4;
      EXPECT_THROW(cuda::attention_decode(a, nullptr, opt), Error) << what;  // too small (the counters count)
    }
  }
}

// Calls without a workspace on one stream share that stream's counters: many tokens (5 x 1000 =
// 5000 counters, more than the first buffer's 4096) make it grow; smaller calls after it, and
// calls on a second stream, stay right.
TEST(CudaAttentionDecodeFusedMerge, StreamCountersGrowAndAreReused) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  Batch big = make_batch(DType::kBF16, {10, 5}, 64, 16, {{0, 1000}}, 22, true);  // a prefill batch, causal
  Batch small = make_batch(DType::kF16, {8, 1}, 128, 16, decode_batch(kContexts), 23);
  const std::vector<float> big_ref = reference(big), small_ref = reference(small);
  cudaStream_t streams[2] = {nullptr, nullptr};
  for (cudaStream_t& s : streams) GQA_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  for (int round = 0; round < 2; ++round) {
    for (cudaStream_t s : streams) {
      for (Batch* b : {&small, &big, &small}) {
        DeviceBatch d(*b);
        GQA_CUDA_CHECK(cudaDeviceSynchronize());  // (its poisoning, on the default stream, before s runs)
        const AttentionArgs a = d.args(*b);
        cuda::attention_decode(a, s, fused_options(b == &big ? 16 : 0));
        GQA_CUDA_CHECK(cudaStreamSynchronize(s));
        EXPECT_LT(rel_error(download(a.out), b == &big ? big_ref : small_ref), 1e-2)
            << (b == &big ? "1000 tokens" : "decode batch") << " round " << round;
      }
    }
  }
  for (cudaStream_t s : streams) GQA_CUDA_CHECK(cudaStreamDestroy(s));
}

// Recorded into a CUDA graph and replayed three times (output poisoned on the stream before each
// replay): recorded on a new stream (its counters do not exist yet, unless its handle repeats a
// destroyed stream's: the call's own scratch, zeroed in the graph), recorded after an eager call
// made them (the kept counters, reset by every replay), and with a caller's workspace; PDL off and on.
TEST(CudaAttentionDecodeFusedMerge, GraphReplays) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  Batch b = make_batch(DType::kBF16, {32, 4}, 128, 16, decode_batch({9000, 300, 4100}), 24);
  const std::vector<float> ref = reference(b);
  DeviceBatch d(b);
  const AttentionArgs a = d.args(b);
  // (eager first, on the default stream: the kernel's attributes are set outside any capture, as
  // the model's graph cache warms up before it records)
  EXPECT_LT(rel_error(attn_test::run_decode(b, fused_options(0)), ref), 1e-2) << "eager";
  for (bool pdl : {false, true}) {
    const cuda::ScopedSwitch pdl_on(cuda::pdl_enabled, cuda::set_pdl, pdl);
    for (int mode = 0; mode < 3; ++mode) {  // 0: fresh stream, 1: after an eager call, 2: caller's workspace
      const std::string what = std::string("pdl ") + (pdl ? "on" : "off") + " mode " + std::to_string(mode);
      cudaStream_t stream = nullptr;
      GQA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
      cuda::DecodeOptions opt = fused_options(0);
      Tensor ws;
      if (mode == 2) {
        opt.workspace_bytes = cuda::decode_workspace_bytes(a, opt);
        ws = cuda::device_alloc(DType::kF32, {int64_t(opt.workspace_bytes / 4)});
        cuda::fill_bytes(ws, 0, stream);
        opt.workspace = ws.data();
      }
      ASSERT_TRUE(cuda::describe_decode(a, opt).fused_merge) << what;
      if (mode == 1) {
        cuda::fill_bytes(a.out, 0xff, stream);
        cuda::attention_decode(a, stream, opt);
        GQA_CUDA_CHECK(cudaStreamSynchronize(stream));
        EXPECT_LT(rel_error(download(a.out), ref), 1e-2) << what << " eager";
      }
      cudaGraph_t graph = nullptr;
      cudaGraphExec_t exec = nullptr;
      GQA_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
      cuda::attention_decode(a, stream, opt);
      GQA_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
      GQA_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
      for (int replay = 0; replay < 3; ++replay) {
        cuda::fill_bytes(a.out, 0xff, stream);
        GQA_CUDA_CHECK(cudaGraphLaunch(exec, stream));
        GQA_CUDA_CHECK(cudaStreamSynchronize(stream));
        EXPECT_LT(rel_error(download(a.out), ref), 1e-2) << what << " replay " << replay;
      }
      GQA_CUDA_CHECK(cudaGraphExecDestroy(exec));
      GQA_CUDA_CHECK(cudaGraphDestroy(graph));
      GQA_CUDA_CHECK(cudaStreamDestroy(stream));
    }
  }
}

// Two fused calls back to back on one stream, the second's q the first's output, PDL off and on:
// under PDL the second kernel starts while the first finishes and must read q only after the
// first grid's last blocks merged it (its pdl_wait waits for the whole grid).
TEST(CudaAttentionDecodeFusedMerge, ChainedCallsReadTheMergedOutput) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const Batch b = make_batch(DType::kBF16, {64, 8}, 128, 16, decode_batch({6000, 33, 15000, 2500}), 26);
  Batch first = b;
  const std::vector<float> ref = reference(first);
  const DeviceBatch d(b);
  GQA_CUDA_CHECK(cudaDeviceSynchronize());  // (its poisoning, on the default stream, before other streams run)
  for (bool pdl : {false, true}) {
    const cuda::ScopedSwitch pdl_on(cuda::pdl_enabled, cuda::set_pdl, pdl);
    cudaStream_t stream = nullptr;
    GQA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    AttentionArgs a = d.args(b);
    cuda::fill_bytes(a.out, 0xff, stream);
    AttentionArgs a2 = a;
    a2.q = a.out;
    a2.out = cuda::device_alloc(b.dt, {b.n, b.hq, b.hd});
    cuda::fill_bytes(a2.out, 0xff, stream);
    cuda::attention_decode(a, stream, fused_options(0));
    cuda::attention_decode(a2, stream, fused_options(0));
    GQA_CUDA_CHECK(cudaStreamSynchronize(stream));
    const std::vector<float> out1 = download(a.out), out2 = download(a2.out);
    EXPECT_LT(rel_error(out1, ref), 1e-2) << "pdl " << pdl;
    Batch second = b;
    second.q = out1;  // (bf16 values already)
    EXPECT_LT(rel_error(out2, reference(second)), 1e-2) << "pdl " << pdl;
    GQA_CUDA_CHECK(cudaStreamDestroy(stream));
  }
}

TEST(CudaAttentionDecodeFusedMerge, BadBlockEntryPoisonsItsTokenOnly) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (cuda::DecodeLoader loader : {cuda::DecodeLoader::kCpAsync, cuda::DecodeLoader::kBulk}) {
    for (int splits : {0, 16}) {  // sequence 1, keys 48..63: the first page past the cache
      attn_test::expect_bad_entry_poisons_one(fused_options(splits, loader), 3, false, 25,
                                              loader_name(loader) + " splits " + std::to_string(splits));
    }
  }
}

// Host-side: the fused merge and the cluster reduction do not combine, however each is asked for
// (checked before anything touches a device).
TEST(CudaAttentionDecodeFusedMerge, ClusterReductionIsRejected) {
  const AttentionArgs a = attn_test::fake_args(DType::kBF16, 8, 1, 128);
  cuda::DecodeOptions opt = fused_options(0);
  opt.cluster_reduce = true;
  EXPECT_THROW(cuda::describe_decode(a, opt), Error);
  {
    const cuda::ScopedSwitch cluster(cuda::decode_cluster_enabled, cuda::set_decode_cluster, true);
    EXPECT_THROW(cuda::describe_decode(a, fused_options(0)), Error);
    const cuda::ScopedSwitch fused(cuda::decode_fused_merge_enabled, cuda::set_decode_fused_merge, true);
    EXPECT_THROW(cuda::describe_decode(a, cuda::DecodeOptions{}), Error);
  }
  test::expect_error([&] { cuda::describe_decode(a, opt); }, {"fused merge", "cluster", "cannot be combined"});
}

}  // namespace
}  // namespace gqa
