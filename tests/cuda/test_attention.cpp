// CUDA GQA attention (decode and prefill kernels) against the CPU twin on random inputs: every
// output element, relative error ||out - ref|| / ||ref|| with the reference computed (in double)
// on the inputs rounded to the kernel's dtype; f32 < 1e-4, f16/bf16 < 1e-2; NaN never passes.
// Paged caches use shuffled block tables (unused entries -1) and spare blocks; outputs are
// poisoned with 0xff (NaN) before each run. Head dims 16, 32 (the model test fixtures), 64 and 128.
// The argument checks run without a GPU too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/attention_prefill.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/device_memory.h"

namespace gqa {
namespace {

struct Heads {
  int64_t hq, hkv;
};

// One sequence of the batch: `prior` cached positions before this step's `tokens` new ones.
struct SeqSpec {
  int prior, tokens;
};

// Host copy of one attention call (f32, already rounded to the kernel dtype).
struct Batch {
  DType dt = DType::kF32;
  int64_t hq = 0, hkv = 0, hd = 0, block_size = 0, num_blocks = 0, max_blocks = 0, n = 0, max_context = 0;
  bool one_token_per_seq = true;
  std::vector<float> q, k_cache, v_cache;
  std::vector<int32_t> tables, token_seq, positions;
  int64_t n_seqs() const { return static_cast<int64_t>(tables.size()) / max_blocks; }
};

std::vector<float> random_vec(size_t n, std::mt19937& rng, float stddev) {
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<float> round_to(const std::vector<float>& v, DType dt) {
  std::vector<uint8_t> buf(v.size() * 4);
  std::vector<float> out(v.size());
  convert_from_f32(v.data(), buf.data(), dt, v.size());
  convert_to_f32(buf.data(), dt, out.data(), v.size());
  return out;
}

// Random batch: each sequence's blocks are a random subset of the cache (plus spare blocks
// nobody owns); token order is sequence by sequence, or shuffled when `shuffle_tokens`.
Batch make_batch(DType dt, Heads h, int64_t hd, int64_t block_size, const std::vector<SeqSpec>& seqs, uint32_t seed,
                 bool shuffle_tokens = false) {
  std::mt19937 rng(seed);
  Batch b;
  b.dt = dt;
  b.hq = h.hq;
  b.hkv = h.hkv;
  b.hd = hd;
  b.block_size = block_size;
  int64_t used = 0;
  for (const SeqSpec& s : seqs) {
    const int64_t blocks = (s.prior + s.tokens + block_size - 1) / block_size;
    used += blocks;
    b.max_blocks = std::max(b.max_blocks, blocks + 1);  // + 1: a trailing -1 entry
    b.max_context = std::max<int64_t>(b.max_context, s.prior + s.tokens);
    b.one_token_per_seq = b.one_token_per_seq && s.tokens == 1;
  }
  b.num_blocks = used + 5;
  std::vector<int32_t> perm(b.num_blocks);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  b.tables.assign(seqs.size() * b.max_blocks, -1);
  size_t next = 0;
  for (size_t s = 0; s < seqs.size(); ++s) {
    const int64_t blocks = (seqs[s].prior + seqs[s].tokens + block_size - 1) / block_size;
    for (int64_t j = 0; j < blocks; ++j) b.tables[s * b.max_blocks + j] = perm[next++];
    for (int t = 0; t < seqs[s].tokens; ++t) {
      b.token_seq.push_back(static_cast<int32_t>(s));
      b.positions.push_back(seqs[s].prior + t);
    }
  }
  b.n = static_cast<int64_t>(b.token_seq.size());
  if (shuffle_tokens) {
    std::vector<size_t> order(b.n);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<int32_t> ts(b.n), ps(b.n);
    for (int64_t i = 0; i < b.n; ++i) ts[i] = b.token_seq[order[i]], ps[i] = b.positions[order[i]];
    b.token_seq = ts;
    b.positions = ps;
  }
  const size_t cache = static_cast<size_t>(b.num_blocks * block_size * h.hkv * hd);
  b.q = round_to(random_vec(static_cast<size_t>(b.n * h.hq * hd), rng, 2.0f), dt);
  b.k_cache = round_to(random_vec(cache, rng, 1.0f), dt);
  b.v_cache = round_to(random_vec(cache, rng, 1.0f), dt);
  return b;
}

Tensor upload(const std::vector<float>& v, DType dt, Shape shape) {
  std::vector<uint8_t> buf(v.size() * dtype_size(dt));
  convert_from_f32(v.data(), buf.data(), dt, v.size());
  Tensor t = cuda::device_alloc(dt, std::move(shape));
  cuda::copy_to_device(buf.data(), t);
  return t;
}

Tensor upload_i32(const std::vector<int32_t>& v, Shape shape) {
  Tensor t = cuda::device_alloc(DType::kI32, std::move(shape));
  cuda::copy_to_device(v.data(), t);
  return t;
}

std::vector<float> download(const Tensor& t) {
  std::vector<uint8_t> buf(t.nbytes());
  cuda::copy_to_host(t, buf.data());
  std::vector<float> out(t.numel());
  convert_to_f32(buf.data(), t.dtype(), out.data(), out.size());
  return out;
}

// The CPU twin on the batch's (rounded) inputs.
std::vector<float> reference(Batch& b) {
  std::vector<float> out(b.q.size());
  AttentionArgs a;
  a.q = Tensor::view(b.q.data(), DType::kF32, {b.n, b.hq, b.hd});
  a.k_cache = Tensor::view(b.k_cache.data(), DType::kF32, {b.num_blocks, b.block_size, b.hkv, b.hd});
  a.v_cache = Tensor::view(b.v_cache.data(), DType::kF32, a.k_cache.shape());
  a.block_tables = Tensor::view(b.tables.data(), DType::kI32, {b.n_seqs(), b.max_blocks});
  a.token_seq = Tensor::view(b.token_seq.data(), DType::kI32, {b.n});
  a.positions = Tensor::view(b.positions.data(), DType::kI32, {b.n});
  a.out = Tensor::view(out.data(), DType::kF32, a.q.shape());
  a.scale = 1.0f / std::sqrt(static_cast<float>(b.hd));
  cpu::attention(a);
  return out;
}

// Device copies of a batch, kept alive with the AttentionArgs that view them.
struct DeviceBatch {
  Tensor q, k, v, tables, token_seq, positions, out;
  AttentionArgs args(bool decode, bool out_aliases_q = false) const {
    AttentionArgs a;
    a.q = q;
    a.k_cache = k;
    a.v_cache = v;
    a.block_tables = tables;
    a.token_seq = token_seq;
    a.positions = positions;
    a.out = out_aliases_q ? q : out;
    a.scale = 1.0f / std::sqrt(static_cast<float>(q.dim(2)));
    a.one_token_per_seq = decode;
    return a;
  }
};

DeviceBatch to_device(const Batch& b) {
  DeviceBatch d;
  d.q = upload(b.q, b.dt, {b.n, b.hq, b.hd});
  d.k = upload(b.k_cache, b.dt, {b.num_blocks, b.block_size, b.hkv, b.hd});
  d.v = upload(b.v_cache, b.dt, {b.num_blocks, b.block_size, b.hkv, b.hd});
  d.tables = upload_i32(b.tables, {b.n_seqs(), b.max_blocks});
  d.token_seq = upload_i32(b.token_seq, {b.n});
  d.positions = upload_i32(b.positions, {b.n});
  d.out = cuda::device_alloc(b.dt, {b.n, b.hq, b.hd});
  cuda::fill_bytes(d.out, 0xff);
  return d;
}

double rel_error(const std::vector<float>& out, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i])) return INFINITY;
    num += (out[i] - ref[i]) * double(out[i] - ref[i]);
    den += double(ref[i]) * ref[i];
  }
  return std::sqrt(num / den);
}

double tolerance(DType dt) { return dt == DType::kF32 ? 1e-4 : 1e-2; }

enum class Kernel { kAuto, kDecode, kPrefill };

// Runs one kernel on the batch (output poisoned first) and returns the output as f32.
std::vector<float> run(const Batch& b, Kernel kernel, const cuda::DecodeOptions& opt = {}, bool alias = false) {
  DeviceBatch d = to_device(b);
  AttentionArgs a = d.args(b.one_token_per_seq, alias);
  a.max_context = b.max_context;
  if (kernel == Kernel::kAuto) {
    cuda::attention(a, nullptr);
  } else if (kernel == Kernel::kDecode) {
    cuda::attention_decode(a, nullptr, opt);
  } else {
    cuda::attention_prefill(a, nullptr);
  }
  return download(a.out);
}

std::vector<SeqSpec> decode_batch(const std::vector<int>& contexts) {
  std::vector<SeqSpec> seqs;
  for (int c : contexts) seqs.push_back({c - 1, 1});
  return seqs;
}

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
                                         Heads{28, 4}),
                       ::testing::Values<int64_t>(16, 32, 64, 128), ::testing::Values<int64_t>(16, 32)));

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

TEST(CudaAttentionDecodeSplits, CallerWorkspace) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  Batch b = make_batch(DType::kBF16, {8, 1}, 128, 32, decode_batch(kDecodeContexts), 15);
  DeviceBatch d = to_device(b);
  AttentionArgs a = d.args(true);
  a.max_context = b.max_context;
  cuda::DecodeOptions opt;
  opt.num_splits = 9;
  opt.workspace_bytes = cuda::decode_workspace_bytes(a, opt);
  ASSERT_GT(opt.workspace_bytes, 0u);
  Tensor ws = cuda::device_alloc(DType::kF32, {int64_t(opt.workspace_bytes / 4)});
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
      const size_t row = static_cast<size_t>(b.hq * b.hd);
      for (int t = 0; t < 3; ++t) {
        const std::vector<float> o(out.begin() + t * row, out.begin() + (t + 1) * row);
        const std::vector<float> r(ref.begin() + t * row, ref.begin() + (t + 1) * row);
        if (t == 1) {
          EXPECT_TRUE(std::all_of(o.begin(), o.end(), [](float x) { return std::isnan(x); }))
              << "hd " << hd << " token 1";
        } else {
          EXPECT_LT(rel_error(o, r), 1e-2) << "hd " << hd << " token " << t;
        }
      }
    }
  }
}

// ---- host-side argument checks (no GPU needed: nothing is launched) ----

AttentionArgs fake_args(DType dt, int64_t hq, int64_t hkv, int64_t hd) {
  alignas(16) static char dummy[16];
  auto dev = [](DType t, Shape s) { return Tensor::view(dummy, t, std::move(s), Device::kCuda); };
  AttentionArgs a;
  a.q = dev(dt, {2, hq, hd});
  a.k_cache = dev(dt, {4, 16, hkv, hd});
  a.v_cache = dev(dt, {4, 16, hkv, hd});
  a.block_tables = dev(DType::kI32, {2, 2});
  a.token_seq = dev(DType::kI32, {2});
  a.positions = dev(DType::kI32, {2});
  a.out = dev(dt, {2, hq, hd});
  a.max_context = 20;
  a.scale = 0.1f;
  return a;
}

TEST(CudaAttentionArgs, RefusesBadShapesAndTypes) {
  for (int64_t hd : {16, 32, 64, 128}) {
    EXPECT_NO_THROW(cuda::check_attention_args(fake_args(DType::kBF16, 8, 2, hd), "t")) << "hd " << hd;
  }
  for (int64_t hd : {8, 24, 48, 96, 256}) {  // head_dim without a compiled kernel
    EXPECT_THROW(cuda::check_attention_args(fake_args(DType::kBF16, 8, 2, hd), "t"), Error) << "hd " << hd;
  }
  EXPECT_THROW(cuda::check_attention_args(fake_args(DType::kBF16, 8, 3, 64), "t"), Error);  // hq % hkv
  EXPECT_THROW(cuda::check_attention_args(fake_args(DType::kI32, 8, 2, 64), "t"), Error);   // dtype
  AttentionArgs a = fake_args(DType::kF16, 8, 2, 64);
  a.v_cache = Tensor::view(a.v_cache.data(), DType::kBF16, a.v_cache.shape(), Device::kCuda);
  EXPECT_THROW(cuda::check_attention_args(a, "t"), Error);  // mixed dtypes
  a = fake_args(DType::kF16, 8, 2, 64);
  a.q = Tensor::view(a.q.data(), DType::kF16, a.q.shape(), Device::kCpu);
  EXPECT_THROW(cuda::check_attention_args(a, "t"), Error);  // host tensor
  a = fake_args(DType::kF16, 8, 2, 64);
  a.positions = Tensor::view(a.positions.data(), DType::kI32, {3}, Device::kCuda);
  EXPECT_THROW(cuda::check_attention_args(a, "t"), Error);  // positions shape
  a = fake_args(DType::kF16, 8, 2, 64);
  a.max_context = 0;
  EXPECT_THROW(cuda::attention_decode(a, nullptr), Error);  // missing hint
  a.max_context = 33;                                       // > 2 blocks * 16
  EXPECT_THROW(cuda::attention_decode(a, nullptr), Error);
}

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
}

}  // namespace
}  // namespace gqa
