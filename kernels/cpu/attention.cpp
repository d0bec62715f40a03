#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

#include "kernels/attention_checks.h"
#include "kernels/cpu/cpu_kernels.h"

namespace gqa::cpu {
namespace {

constexpr const char* kOp = "attention";
constexpr double kParallelWork = 1 << 24;  // multiply-adds from which a call spreads over threads

AttentionDims check_args(const AttentionArgs& a) {
  detail::expect_kind(a.q, DType::kF32, 3, kOp, "q");
  detail::expect_kind(a.k_cache, DType::kF32, 4, kOp, "k_cache");
  detail::expect_kind(a.block_tables, DType::kI32, 2, kOp, "block_tables");
  const AttentionDims d = AttentionDims::of(a);
  GQA_CHECK(a.k_cache.dim(3) == d.hd, kOp << ": q " << shape_str(a.q.shape()) << " and k_cache "
                                          << shape_str(a.k_cache.shape()) << " disagree on head_dim");
  GQA_CHECK(d.hkv > 0 && d.hq % d.hkv == 0, kOp << ": query heads of q " << shape_str(a.q.shape())
                                                << " are not a multiple of the KV "
                                                << "heads of k_cache " << shape_str(a.k_cache.shape()));
  GQA_CHECK(d.block_size > 0, kOp << ": zero block_size in k_cache " << shape_str(a.k_cache.shape()));
  detail::expect(a.v_cache, DType::kF32, a.k_cache.shape(), kOp, "v_cache");
  detail::expect(a.token_seq, DType::kI32, {d.n}, kOp, "token_seq");
  detail::expect(a.positions, DType::kI32, {d.n}, kOp, "positions");
  detail::expect(a.out, DType::kF32, a.q.shape(), kOp, "out");
  check_attention_out_apart(a, kOp);
  return d;
}

// Flat cache row (block * block_size + offset) of each key position [0, pos] of sequence `seq`,
// validating the sequence index, the position and every block table entry it touches.
void resolve_rows(const AttentionArgs& a, const AttentionDims& d, int64_t t, std::vector<int64_t>& rows) {
  const int64_t seq = a.token_seq.data_as<int32_t>()[t];
  const int64_t pos = a.positions.data_as<int32_t>()[t];
  GQA_CHECK(seq >= 0 && seq < d.n_seqs, kOp << ": token " << t << " belongs to sequence " << seq
                                            << " but block_tables " << shape_str(a.block_tables.shape())
                                            << " has " << d.n_seqs << " sequences");
  GQA_CHECK(pos >= 0 && pos < d.max_blocks * d.block_size,
            kOp << ": position " << pos << " of token " << t << " does not fit block_tables "
                << shape_str(a.block_tables.shape()) << " with block_size " << d.block_size);
  const int32_t* table = a.block_tables.data_as<int32_t>() + seq * d.max_blocks;
  rows.resize(static_cast<size_t>(pos + 1));
  for (int64_t j = 0; j <= pos; ++j) {
    const int64_t block = table[j / d.block_size];
    GQA_CHECK(block >= 0 && block < d.num_blocks, kOp << ": block_tables[" << seq << "][" << j / d.block_size
                                                      << "] = " << block << " is outside the cache of "
                                                      << d.num_blocks << " blocks");
    rows[j] = block * d.block_size + j % d.block_size;
  }
}

// One query head against KV head g: out = softmax(scale * q K^T) V over the given cache rows.
// Scores, the softmax (max-subtracted) and the weighted sum are all in double; `out` is written
// only at the end, so it may alias `q`.
void attend_head(const float* q, const AttentionArgs& a, const AttentionDims& d, int64_t g,
                 const std::vector<int64_t>& rows, std::vector<double>& scores, std::vector<double>& acc,
                 float* out) {
  const float* k_cache = a.k_cache.data_as<float>();
  const float* v_cache = a.v_cache.data_as<float>();
  const int64_t row_len = d.hkv * d.hd;
  scores.resize(rows.size());
  double max_score = -INFINITY;
  for (size_t j = 0; j < rows.size(); ++j) {
    const float* key = k_cache + rows[j] * row_len + g * d.hd;
    double dot = 0.0;
    for (int64_t i = 0; i < d.hd; ++i) dot += static_cast<double>(q[i]) * key[i];
    scores[j] = dot * static_cast<double>(a.scale);
    max_score = std::max(max_score, scores[j]);
  }
  double denom = 0.0;
  std::fill(acc.begin(), acc.end(), 0.0);
  for (size_t j = 0; j < rows.size(); ++j) {
    const double p = std::exp(scores[j] - max_score);
    denom += p;
    const float* value = v_cache + rows[j] * row_len + g * d.hd;
    for (int64_t i = 0; i < d.hd; ++i) acc[i] += p * value[i];
  }
  for (int64_t i = 0; i < d.hd; ++i) out[i] = static_cast<float>(acc[i] / denom);
}

}  // namespace

// q: f32 [n, hq, hd]; k_cache, v_cache: f32 [num_blocks, block_size, hkv, hd];
// block_tables: i32 [n_seqs, max_blocks_per_seq]; token_seq, positions: i32 [n];
// out: f32 [n, hq, hd]. Causal GQA attention: query head h reads KV head h / (hq / hkv), and
// token t attends to cache positions [0, positions[t]] of its sequence, which must already
// hold this step's keys (kv_write runs first).
// Large calls (long prompts, the GPU tests' 128K-context references) spread their (token, head)
// pairs over the machine's cores; each pair is computed the same way either way, so the result
// does not depend on the thread count, and an error names the first bad token as a serial run would.
int64_t cpu_threads() {
  if (const char* env = std::getenv("GQA_CPU_THREADS"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    GQA_CHECK(*end == '\0' && n >= 1 && n <= 4096, "GQA_CPU_THREADS=" << env << ": expected a thread count in [1, 4096]");
    return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

void attention(const AttentionArgs& a) {
  const AttentionDims d = check_args(a);
  const int64_t group = d.hq / d.hkv;  // query heads sharing one KV head
  const int64_t pairs = d.n * d.hq;
  double work = 0;  // multiply-adds, roughly
  for (int64_t t = 0; t < d.n; ++t) work += (std::max(a.positions.data_as<int32_t>()[t], 0) + 1.0) * d.hq * d.hd;
  const int64_t threads = work < kParallelWork ? 1 : std::min<int64_t>(pairs, cpu_threads());

  // Pairs i = first, first + threads, ... in order; stops at its first error, kept with its pair.
  auto run = [&](int64_t first, int64_t& failed_at, std::exception_ptr& error) {
    std::vector<int64_t> rows;
    std::vector<double> scores;
    std::vector<double> acc(static_cast<size_t>(d.hd));
    int64_t rows_of = -1, current = -1;  // the token `rows` was resolved for; the token at hand
    try {
      for (int64_t i = first; i < pairs; i += threads) {
        const int64_t t = i / d.hq, h = i % d.hq;
        current = t;
        if (rows_of != t) {
          resolve_rows(a, d, t, rows);
          rows_of = t;
        }
        const int64_t offset = (t * d.hq + h) * d.hd;
        attend_head(a.q.data_as<float>() + offset, a, d, h / group, rows, scores, acc, a.out.data_as<float>() + offset);
      }
    } catch (...) {
      failed_at = current;
      error = std::current_exception();
    }
  };
  std::vector<int64_t> failed_at(threads, -1);
  std::vector<std::exception_ptr> errors(threads);
  if (threads == 1) {
    run(0, failed_at[0], errors[0]);
  } else {
    std::vector<std::thread> pool;
    int64_t started = 0;
    try {
      pool.reserve(static_cast<size_t>(threads));
      for (; started < threads; ++started) pool.emplace_back(run, started, std::ref(failed_at[started]), std::ref(errors[started]));
    } catch (...) {  // the system would not start them all: this thread runs the rest's shares
    }
    for (int64_t w = started; w < threads; ++w) run(w, failed_at[w], errors[w]);
    for (std::thread& th : pool) th.join();
  }
  int64_t first = -1;  // the worker whose error is at the lowest token: the serial run's error
  for (int64_t w = 0; w < threads; ++w) {
    if (errors[w] && (first < 0 || failed_at[w] < failed_at[first])) first = w;
  }
  if (first >= 0) std::rethrow_exception(errors[first]);
}

}  // namespace gqa::cpu
