// CPU kv_write and paged GQA attention against plain double loops over each sequence's
// contiguous ("logical") K and V. The cache is filled with NaN before the test scatters the
// keys into shuffled blocks, so any read of a wrong slot poisons the result.
#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "cpu_op_test_util.h"
#include "kernels/cpu/cpu_kernels.h"

namespace gqa::cpu {
namespace {

using test::expect_all_close;
using test::expect_error;
using test::i32_tensor;
using test::random_f32;

struct AttnCase {
  int hq, hkv, hd, block_size;
  std::vector<int> seq_lens;  // keys already in the cache per sequence (incl. this step's)
  std::vector<int> queries;   // this step's query tokens per sequence: the last ones of it
};

// The batch of one attention call: inputs for the op and the logical K/V for the reference.
struct Batch {
  Tensor q, k_cache, v_cache, block_tables, token_seq, positions, out;
  std::vector<std::vector<float>> k, v;  // per sequence [len, hkv, hd]
};

Batch make_batch(const AttnCase& c, std::mt19937& rng) {
  Batch b;
  const int n_seqs = static_cast<int>(c.seq_lens.size());
  const int row = c.hkv * c.hd;
  int total_blocks = 3, max_blocks = 1;  // a few spare blocks stay NaN
  for (int len : c.seq_lens) {
    const int need = (len + c.block_size - 1) / c.block_size;
    total_blocks += need;
    max_blocks = std::max(max_blocks, need + 1);  // one unused (-1) entry per row at least
  }
  std::vector<int32_t> pool(static_cast<size_t>(total_blocks));
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), rng);
  b.k_cache = test::filled_f32({total_blocks, c.block_size, c.hkv, c.hd}, NAN);
  b.v_cache = test::filled_f32({total_blocks, c.block_size, c.hkv, c.hd}, NAN);
  std::vector<int32_t> tables(static_cast<size_t>(n_seqs * max_blocks), -1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  size_t next_block = 0;
  for (int s = 0; s < n_seqs; ++s) {
    const int len = c.seq_lens[s];
    b.k.emplace_back(static_cast<size_t>(len * row));
    b.v.emplace_back(static_cast<size_t>(len * row));
    for (auto& x : b.k.back()) x = dist(rng);
    for (auto& x : b.v.back()) x = dist(rng);
    for (int j = 0; j < len; ++j) {
      if (j % c.block_size == 0) tables[s * max_blocks + j / c.block_size] = pool[next_block++];
      const int64_t slot =
          int64_t{tables[s * max_blocks + j / c.block_size]} * c.block_size + j % c.block_size;
      std::copy_n(&b.k[s][j * row], row, b.k_cache.data_as<float>() + slot * row);
      std::copy_n(&b.v[s][j * row], row, b.v_cache.data_as<float>() + slot * row);
    }
  }
  b.block_tables = i32_tensor(tables, {n_seqs, max_blocks});
  std::vector<std::pair<int32_t, int32_t>> tokens;  // (sequence, position), then shuffled
  for (int s = 0; s < n_seqs; ++s) {
    for (int p = c.seq_lens[s] - c.queries[s]; p < c.seq_lens[s]; ++p) tokens.emplace_back(s, p);
  }
  std::shuffle(tokens.begin(), tokens.end(), rng);
  std::vector<int32_t> seq_ids, positions;
  for (auto [s, p] : tokens) seq_ids.push_back(s), positions.push_back(p);
  const int64_t n = static_cast<int64_t>(tokens.size());
  b.token_seq = i32_tensor(seq_ids);
  b.positions = i32_tensor(positions);
  b.q = random_f32({n, c.hq, c.hd}, rng, -2.0f, 2.0f);
  b.out = test::filled_f32({n, c.hq, c.hd}, NAN);
  return b;
}

// Straight from the definition, on the logical K/V: out[t, h] = softmax_j(scale q.k_j) v_j.
std::vector<double> ref_attention(const AttnCase& c, const Batch& b, double scale) {
  const int64_t n = b.q.dim(0);
  const int row = c.hkv * c.hd, group = c.hq / c.hkv;
  std::vector<double> out(static_cast<size_t>(n * c.hq * c.hd));
  for (int64_t t = 0; t < n; ++t) {
    const int s = b.token_seq.data_as<int32_t>()[t];
    const int p = b.positions.data_as<int32_t>()[t];
    for (int h = 0; h < c.hq; ++h) {
      const float* q = b.q.data_as<float>() + (t * c.hq + h) * c.hd;
      const int g = h / group;
      std::vector<double> w(static_cast<size_t>(p + 1));
      for (int j = 0; j <= p; ++j) {
        double dot = 0;
        for (int i = 0; i < c.hd; ++i) dot += double{q[i]} * b.k[s][j * row + g * c.hd + i];
        w[j] = dot * scale;
      }
      const double mx = *std::max_element(w.begin(), w.end());
      double sum = 0;
      for (double& x : w) sum += (x = std::exp(x - mx));
      for (int i = 0; i < c.hd; ++i) {
        double acc = 0;
        for (int j = 0; j <= p; ++j) acc += w[j] * b.v[s][j * row + g * c.hd + i];
        out[(t * c.hq + h) * c.hd + i] = acc / sum;
      }
    }
  }
  return out;
}

AttentionArgs args_of(const Batch& b, float scale) {
  return {b.q, b.k_cache, b.v_cache, b.block_tables, b.token_seq, b.positions, b.out, scale};
}

// (scale 0: 1 / sqrt(hd), the model's)
void run_case(const AttnCase& c, uint32_t seed, float scale = 0) {
  std::mt19937 rng(seed);
  Batch b = make_batch(c, rng);
  if (scale == 0) scale = 1.0f / std::sqrt(static_cast<float>(c.hd));
  attention(args_of(b, scale));
  expect_all_close(b.out, ref_attention(c, b, scale), 1e-6, 1e-5,
                   "attention hq=" + std::to_string(c.hq) + " hkv=" + std::to_string(c.hkv) +
                       " hd=" + std::to_string(c.hd) + " block_size=" + std::to_string(c.block_size));
}

TEST(CpuAttention, MultiHead) { run_case({4, 4, 16, 16, {1, 17, 40}, {1, 5, 40}}, 1); }
TEST(CpuAttention, GroupedQueryOddBlockSize) { run_case({8, 2, 64, 5, {3, 23, 11, 5}, {3, 1, 4, 1}}, 2); }
TEST(CpuAttention, MultiQuery) { run_case({8, 1, 128, 16, {50, 1, 33}, {2, 1, 33}}, 3); }
TEST(CpuAttention, GroupedQueryHeadDim128BlockSize5) { run_case({8, 2, 128, 5, {12, 7}, {12, 1}}, 4); }
TEST(CpuAttention, DecodeBatchBlockSize1) { run_case({6, 3, 16, 1, {9, 4, 1, 13}, {1, 1, 1, 1}}, 5); }

// A single key: the softmax weight is exactly 1, so every query head of a group returns its v.
// Scores in the thousands (exp of one overflows even a double): the softmax subtracts the row's
// maximum first. (Mutation testing: without it every test passed.)
TEST(CpuAttention, LargeScoresStayFinite) { run_case({4, 2, 16, 4, {40, 9}, {3, 9}}, 6, /*scale=*/1000.0f); }

TEST(CpuAttention, SingleKeyReturnsValue) {
  const AttnCase c{8, 2, 64, 16, {1, 1}, {1, 1}};
  std::mt19937 rng(6);
  Batch b = make_batch(c, rng);
  attention(args_of(b, 0.125f));
  for (int64_t t = 0; t < 2; ++t) {
    const int s = b.token_seq.data_as<int32_t>()[t];
    for (int h = 0; h < c.hq; ++h) {
      for (int i = 0; i < c.hd; ++i) {
        ASSERT_EQ(b.out.data_as<float>()[(t * c.hq + h) * c.hd + i], b.v[s][(h / 4) * c.hd + i])
            << "token " << t << " head " << h << " dim " << i;
      }
    }
  }
}

// A call large enough to spread over threads (a 100-token chunk after 2400 cached keys) against
// the reference, and bit for bit against the same tokens one call each (below the threshold: one
// thread); with two bad tokens the error names the first, as a serial run does.
TEST(CpuAttention, ThreadedCallEqualsSerialCallsAndNamesFirstBadToken) {
  const AttnCase c{8, 2, 64, 16, {2500}, {100}};
  std::mt19937 rng(8);
  Batch b = make_batch(c, rng);
  const float scale = 0.125f;
  attention(args_of(b, scale));
  expect_all_close(b.out, ref_attention(c, b, scale), 1e-6, 1e-5, "threaded attention");
  const int64_t row = c.hq * c.hd;
  for (int64_t t = 0; t < 100; ++t) {
    Tensor out1 = random_f32({1, c.hq, c.hd}, rng);
    Tensor q1 = b.q.slice_rows(t, t + 1), seq1 = b.token_seq.slice_rows(t, t + 1), pos1 = b.positions.slice_rows(t, t + 1);
    attention({q1, b.k_cache, b.v_cache, b.block_tables, seq1, pos1, out1, scale});
    for (int64_t i = 0; i < row; ++i) {
      ASSERT_EQ(out1.data_as<float>()[i], b.out.data_as<float>()[t * row + i]) << "token " << t << " element " << i;
    }
  }
  const int32_t past = static_cast<int32_t>(b.block_tables.dim(1) * c.block_size);
  b.positions.data_as<int32_t>()[70] = past;
  b.positions.data_as<int32_t>()[40] = past;
  expect_error([&] { attention(args_of(b, scale)); }, "of token 40 ");

  // One head: with two threads the workers take alternate tokens, so one fails first at token 41
  // and the other at 40; the error must be token 40's whatever finishes first.
  ASSERT_EQ(setenv("GQA_CPU_THREADS", "2", 1), 0);
  const AttnCase one{1, 1, 128, 16, {2500}, {100}};
  Batch b1 = make_batch(one, rng);
  const int32_t past1 = static_cast<int32_t>(b1.block_tables.dim(1) * one.block_size);
  b1.positions.data_as<int32_t>()[41] = past1;
  b1.positions.data_as<int32_t>()[40] = past1;
  expect_error([&] { attention(args_of(b1, scale)); }, "of token 40 ");
  // The lowest bad token in the second worker's share (41; the first worker fails at 42): still the
  // serial run's error, not the first worker's. (Mutation testing: taking the first worker's error
  // passed the case above, whose lowest bad token is in the first worker's share.)
  b1.positions.data_as<int32_t>()[40] = 0;  // (valid again)
  b1.positions.data_as<int32_t>()[42] = past1;
  expect_error([&] { attention(args_of(b1, scale)); }, "of token 41 ");
  ASSERT_EQ(setenv("GQA_CPU_THREADS", "x", 1), 0);
  expect_error([&] { attention(args_of(b1, scale)); }, "GQA_CPU_THREADS");
  ASSERT_EQ(unsetenv("GQA_CPU_THREADS"), 0);
}

TEST(CpuAttention, RejectsBadBlockTablesAndPositions) {
  const AttnCase c{4, 2, 16, 4, {6}, {1}};
  std::mt19937 rng(7);
  Batch b = make_batch(c, rng);
  b.block_tables.data_as<int32_t>()[0] = static_cast<int32_t>(b.k_cache.dim(0));  // past the cache
  expect_error([&] { attention(args_of(b, 1.0f)); }, "block_tables[0][0]");
  b = make_batch(c, rng);
  b.positions.data_as<int32_t>()[0] = static_cast<int32_t>(b.block_tables.dim(1) * c.block_size);
  expect_error([&] { attention(args_of(b, 1.0f)); }, "position");
  b = make_batch(c, rng);
  b.token_seq.data_as<int32_t>()[0] = 1;
  expect_error([&] { attention(args_of(b, 1.0f)); }, "sequence 1");
  // Negative entries: -1 marks an unused block table entry, and a sequence index below 0 would read
  // before the tables; both are refused by name, not read. (Mutation testing: without the ">= 0"
  // halves of the checks every test passed.)
  b = make_batch(c, rng);
  b.block_tables.data_as<int32_t>()[0] = -1;
  expect_error([&] { attention(args_of(b, 1.0f)); }, "block_tables[0][0] = -1");
  b = make_batch(c, rng);
  b.token_seq.data_as<int32_t>()[0] = -1;
  expect_error([&] { attention(args_of(b, 1.0f)); }, "sequence -1");
  b = make_batch(c, rng);
  b.q = random_f32({1, 3, 16}, rng);  // 3 query heads over 2 KV heads
  b.out = random_f32({1, 3, 16}, rng);
  expect_error([&] { attention(args_of(b, 1.0f)); }, "attention");
}

// out may be q itself (the same result) but overlap nothing else: not q in part, not the cache.
TEST(CpuAttention, OutIsQOrApartFromEveryInput) {
  const AttnCase c{4, 2, 16, 4, {6, 3}, {2, 1}};
  std::mt19937 rng(11);
  Batch b = make_batch(c, rng);
  const float scale = 0.25f;
  const std::vector<double> ref = ref_attention(c, b, scale);
  Tensor q_copy = test::filled_f32(b.q.shape(), 0.0f);
  std::copy_n(b.q.data_as<float>(), b.q.numel(), q_copy.data_as<float>());
  AttentionArgs in_place = args_of(b, scale);
  in_place.out = q_copy;
  in_place.q = q_copy;
  attention(in_place);
  expect_all_close(q_copy, ref, 1e-6, 1e-5, "attention with out = q");

  Tensor wide = test::filled_f32({b.q.numel() + c.hd}, 0.0f);  // q, and out one head further on
  std::copy_n(b.q.data_as<float>(), b.q.numel(), wide.data_as<float>());
  AttentionArgs shifted = args_of(b, scale);
  shifted.q = Tensor::view(wide.data_as<float>(), DType::kF32, b.q.shape());
  shifted.out = Tensor::view(wide.data_as<float>() + c.hd, DType::kF32, b.q.shape());
  expect_error([&] { attention(shifted); }, "attention: out overlaps q without being q");
  for (const bool in_k : {true, false}) {
    AttentionArgs into_cache = args_of(b, scale);
    Tensor& cache = in_k ? b.k_cache : b.v_cache;
    into_cache.out = Tensor::view(cache.data_as<float>() + 8, DType::kF32, b.q.shape());
    expect_error([&] { attention(into_cache); }, in_k ? "attention: out overlaps k_cache" : "out overlaps v_cache");
  }
}

TEST(CpuKvWrite, WritesEachTokenToItsSlot) {
  for (int block_size : {16, 5}) {
    std::mt19937 rng(10 + block_size);
    const int num_blocks = 4, hkv = 2, hd = 16, n = 9;
    Tensor k = random_f32({n, hkv, hd}, rng), v = random_f32({n, hkv, hd}, rng);
    Tensor k_cache = random_f32({num_blocks, block_size, hkv, hd}, rng);
    Tensor v_cache = random_f32({num_blocks, block_size, hkv, hd}, rng);
    std::vector<double> want_k = test::to_double(k_cache), want_v = test::to_double(v_cache);
    std::vector<int32_t> all(static_cast<size_t>(num_blocks * block_size));
    std::iota(all.begin(), all.end(), 0);
    std::shuffle(all.begin(), all.end(), rng);
    std::vector<int32_t> slots(all.begin(), all.begin() + n);
    for (int t = 0; t < n; ++t) {
      const int block = slots[t] / block_size, offset = slots[t] % block_size;
      for (int g = 0; g < hkv; ++g) {
        for (int i = 0; i < hd; ++i) {
          const size_t dst = ((static_cast<size_t>(block) * block_size + offset) * hkv + g) * hd + i;
          want_k[dst] = k.data_as<float>()[(t * hkv + g) * hd + i];
          want_v[dst] = v.data_as<float>()[(t * hkv + g) * hd + i];
        }
      }
    }
    kv_write({k, v, k_cache, v_cache, i32_tensor(slots)});
    expect_all_close(k_cache, want_k, 0.0, 0.0, "k_cache, block_size " + std::to_string(block_size));
    expect_all_close(v_cache, want_v, 0.0, 0.0, "v_cache, block_size " + std::to_string(block_size));
  }
}

TEST(CpuKvWrite, RejectsOutOfRangeSlotsAndShapes) {
  std::mt19937 rng(20);
  Tensor k = random_f32({2, 2, 8}, rng), v = random_f32({2, 2, 8}, rng);
  Tensor cache_k = random_f32({3, 4, 2, 8}, rng), cache_v = random_f32({3, 4, 2, 8}, rng);
  expect_error([&] { kv_write({k, v, cache_k, cache_v, i32_tensor({0, 12})}); }, "slot 12");
  expect_error([&] { kv_write({k, v, cache_k, cache_v, i32_tensor({-1, 0})}); }, "slot -1");
  Tensor wrong_v = random_f32({3, 4, 1, 8}, rng);
  expect_error([&] { kv_write({k, v, cache_k, wrong_v, i32_tensor({0, 1})}); }, "kv_write: v_cache");
  // One cache for both (V would overwrite K), and k inside a cache (rows overwritten before read).
  expect_error([&] { kv_write({k, v, cache_k, cache_k, i32_tensor({0, 1})}); }, "k_cache and v_cache overlap");
  const Tensor k_in_cache = Tensor::view(cache_v.data(), DType::kF32, {2, 2, 8});
  expect_error([&] { kv_write({k_in_cache, v, cache_k, cache_v, i32_tensor({0, 1})}); }, "k or v overlaps a cache");
}

// The model's order within a step: kv_write the new tokens, then attend. Checks the two ops
// agree on the cache layout (a prefill of 7 tokens into blocks {2, 0} of size 4).
TEST(CpuAttention, AfterKvWrite) {
  std::mt19937 rng(30);
  const int hq = 4, hkv = 2, hd = 16, bs = 4, n = 7;
  Tensor k = random_f32({n, hkv, hd}, rng), v = random_f32({n, hkv, hd}, rng);
  Tensor k_cache = test::filled_f32({3, bs, hkv, hd}, NAN), v_cache = test::filled_f32({3, bs, hkv, hd}, NAN);
  std::vector<int32_t> slots, positions;
  for (int p = 0; p < n; ++p) slots.push_back((p < bs ? 2 : 0) * bs + p % bs), positions.push_back(p);
  kv_write({k, v, k_cache, v_cache, i32_tensor(slots)});
  Batch b;
  b.q = random_f32({n, hq, hd}, rng);
  b.k_cache = k_cache, b.v_cache = v_cache, b.block_tables = i32_tensor({2, 0}, {1, 2});
  b.token_seq = i32_tensor(std::vector<int32_t>(n, 0)), b.positions = i32_tensor(positions);
  b.out = test::filled_f32({n, hq, hd}, NAN);
  b.k = {std::vector<float>(k.data_as<float>(), k.data_as<float>() + k.numel())};
  b.v = {std::vector<float>(v.data_as<float>(), v.data_as<float>() + v.numel())};
  attention(args_of(b, 0.25f));
  expect_all_close(b.out, ref_attention({hq, hkv, hd, bs, {n}, {n}}, b, 0.25f), 1e-6, 1e-5,
                   "attention after kv_write");
}

}  // namespace
}  // namespace gqa::cpu
