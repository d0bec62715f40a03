// Random paged-cache attention batches for the CUDA attention tests, and the CPU twin on them.
// A batch is a list of sequences, each `prior` cached positions before this step's `tokens` new
// ones; every sequence owns a random subset of the cache blocks (shuffled block table, unused
// entries -1, spare blocks nobody owns). q, K and V are rounded to the kernel dtype on the host,
// so the CPU twin (in double) sees exactly what the GPU sees. Device outputs are poisoned with
// 0xff bytes (NaN in f32, f16 and bf16) before a kernel runs; rel_error (tests/cuda/cuda_test_util.h)
// is infinite on any NaN.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/device_memory.h"
#include "tests/cuda/cuda_test_util.h"

namespace gqa::attn_test {

struct Heads {
  int64_t hq, hkv;
};

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

// n draws from N(0, stddev^2) continuing `rng`, rounded to `dt`.
inline std::vector<float> random_rounded(size_t n, std::mt19937& rng, float stddev, DType dt) {
  return test::round_to(test::normal_vec(n, rng, 0.0f, stddev), dt);
}

// Tokens sequence by sequence, or in a random order when `shuffle_tokens`.
inline Batch make_batch(DType dt, Heads h, int64_t hd, int64_t block_size, const std::vector<SeqSpec>& seqs,
                        uint32_t seed, bool shuffle_tokens = false) {
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
  b.q = random_rounded(static_cast<size_t>(b.n * h.hq * hd), rng, 2.0f, dt);
  b.k_cache = random_rounded(cache, rng, 1.0f, dt);
  b.v_cache = random_rounded(cache, rng, 1.0f, dt);
  return b;
}

// The CPU twin on the batch's (rounded) inputs: f32 [n, hq, hd].
inline std::vector<float> reference(Batch& b) {
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

using test::download;
using test::rel_error;  // ||out - ref|| / ||ref||; infinite on any NaN (or infinity) in out
using test::upload;
using test::upload_i32;

// Device copies of a batch, kept alive with the AttentionArgs that view them; `out` poisoned.
struct DeviceBatch {
  Tensor q, k, v, tables, token_seq, positions, out;

  explicit DeviceBatch(const Batch& b)
      : q(upload(b.q, b.dt, {b.n, b.hq, b.hd})),
        k(upload(b.k_cache, b.dt, {b.num_blocks, b.block_size, b.hkv, b.hd})),
        v(upload(b.v_cache, b.dt, {b.num_blocks, b.block_size, b.hkv, b.hd})),
        tables(upload_i32(b.tables, {b.n_seqs(), b.max_blocks})),
        token_seq(upload_i32(b.token_seq, {b.n})),
        positions(upload_i32(b.positions, {b.n})),
        out(cuda::device_alloc(b.dt, {b.n, b.hq, b.hd})) {
    cuda::fill_bytes(out, 0xff);
  }

  AttentionArgs args(const Batch& b, bool out_aliases_q = false) const {
    AttentionArgs a;
    a.q = q;
    a.k_cache = k;
    a.v_cache = v;
    a.block_tables = tables;
    a.token_seq = token_seq;
    a.positions = positions;
    a.out = out_aliases_q ? q : out;
    a.scale = 1.0f / std::sqrt(static_cast<float>(b.hd));
    a.max_context = b.max_context;
    a.one_token_per_seq = b.one_token_per_seq;
    return a;
  }
};

// Elements [t * row, (t + 1) * row) of v: token t's output, row = hq * hd.
inline std::vector<float> token_rows(const std::vector<float>& v, const Batch& b, int64_t t) {
  const size_t row = static_cast<size_t>(b.hq * b.hd);
  return std::vector<float>(v.begin() + t * row, v.begin() + (t + 1) * row);
}

// One token per sequence at the end of each context (a decode step): prior = context - 1.
inline std::vector<SeqSpec> decode_batch(const std::vector<int>& contexts) {
  std::vector<SeqSpec> seqs;
  for (int c : contexts) seqs.push_back({c - 1, 1});
  return seqs;
}

// cuda::attention_decode on the batch (output poisoned first); the output as f32.
inline std::vector<float> run_decode(const Batch& b, const cuda::DecodeOptions& opt) {
  DeviceBatch d(b);
  AttentionArgs a = d.args(b);
  cuda::attention_decode(a, nullptr, opt);
  return download(a.out);
}

// Decode of the three sequences {40, 300, 17} (bf16, `heads` (default hq 8, hkv 2), hd 128) with
// sequence 1's block-table entry `entry` outside the cache (-5 when `negative`, else the first page
// past its end): token 1's rows all NaN, the others the reference's.
inline void expect_bad_entry_poisons_one(const cuda::DecodeOptions& opt, int entry, bool negative, uint32_t seed,
                                         const std::string& what, Heads heads = {8, 2}) {
  Batch b = make_batch(DType::kBF16, heads, 128, 16, decode_batch({40, 300, 17}), seed);
  const std::vector<float> ref = reference(b);
  b.tables[1 * b.max_blocks + entry] = negative ? -5 : static_cast<int32_t>(b.num_blocks);
  const std::vector<float> out = run_decode(b, opt);
  for (int t = 0; t < 3; ++t) {
    const std::vector<float> o = token_rows(out, b, t);
    if (t == 1) {
      EXPECT_TRUE(std::all_of(o.begin(), o.end(), [](float x) { return std::isnan(x); })) << what;
    } else {
      EXPECT_LT(rel_error(o, token_rows(ref, b, t)), 1e-2) << what << " token " << t;
    }
  }
}

// The tensor-core prefill kernels' shape sweep (test_attention_prefill_mma / _wgmma): dtype,
// heads (MHA, GQA-4, GQA-8 at 64 heads, MQA), head_dim, cache block size.
inline auto prefill_shapes() {
  return ::testing::Combine(::testing::Values(DType::kBF16, DType::kF16),
                            ::testing::Values(Heads{8, 8}, Heads{8, 2}, Heads{64, 8}, Heads{8, 1}),
                            ::testing::Values<int64_t>(64, 128), ::testing::Values<int64_t>(16, 32));
}

// Device-looking arguments for host-side checks that never launch: q and out [2, hq, hd], caches
// [4 blocks, 16, hkv, hd], 2 sequences of 2 table entries.
inline AttentionArgs fake_args(DType dt, int64_t hq, int64_t hkv, int64_t hd) {
  // Made-up device addresses, never dereferenced: each tensor its own 256-byte-aligned range, as
  // the checks refuse an out that overlaps an input.
  uintptr_t next = uintptr_t{1} << 40;
  auto dev = [&next](DType t, Shape s) {
    Tensor v = Tensor::view(reinterpret_cast<void*>(next), t, std::move(s), Device::kCuda);
    next += (static_cast<uintptr_t>(v.nbytes()) + 255) & ~uintptr_t{255};
    return v;
  };
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

}  // namespace gqa::attn_test
