#include "launch/gqa_bench/prefill_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <random>
#include <utility>

#include "kernels/cuda/attention_prefill_wgmma.h"
#include "kernels/cuda/cuda_check.h"
#include "launch/gqa_bench/random_model.h"
#include "runtime/kv_cache.h"

namespace gqa::bench {
namespace {

// The other chunk size the attention is timed at (the candidate for the cuda default: gqa-generate's
// auto chunk is 4096, as --prefill-chunk here; runs 9 and 11 timed 8K in one chunk of 8192 faster).
constexpr int64_t kWideChunk = 8192;

struct PrefillRow {
  int64_t p = 0;
  double seconds = NAN;
  double attn_layer_ms = NAN;  // one layer's attention over all chunks (the default kernel)
  double attn_wide_ms = NAN;   // the same in chunks of kWideChunk (where --prefill-chunk is another)
  double attn_lazy_ms = NAN;   // attn_layer_ms's calls with the lazy rescale on (wgmma only)
  double attn_random_ms = NAN; // attn_layer_ms's calls on a cache of random K/V (one_layer_cache)
  double attn_persistent_ms = NAN;  // attn_layer_ms's calls through the persistent build (wgmma only)
  double attn_persistent_lazy_ms = NAN;  // the same with the lazy rescale on (the two opt-in candidates together)
  double mhz_before = NAN, mhz_after = NAN;  // SM clock right after the prefill and after the attention timings
  std::string note;
  // The GEMM ceiling timed again right after mhz_after, and the SM clock right after it: the
  // attention against a GEMM in the same state of the GPU (the ceilings' GEMM ran at the start)
  double gemm_after = NAN, gemm_after_mhz = NAN;
};

// A row that was not timed, for `note`'s reason.
PrefillRow noted_row(int64_t p, std::string note) {
  PrefillRow r;
  r.p = p;
  r.note = std::move(note);
  return r;
}

// Why a column of build b is not timed ("" where it is): no wgmma prefill here, or b's test failed
// in this run (GQA_BENCH_SKIP_WGMMA). The lazy rescale's column runs the default build (whose test
// process runs the lazy rescale's cases too), the persistent build's columns that build.
std::string wgmma_column_skip(cuda::PrefillWgmmaBuild b) {
  if (!cuda::prefill_wgmma_enabled() || !cuda::prefill_wgmma_available()) return "no wgmma";
  if (wgmma_build_skipped(cuda::prefill_wgmma_build_name(b))) return "test failed";
  return "";
}
std::string lazy_rescale_skip() { return wgmma_column_skip(cuda::prefill_wgmma_build()); }
std::string persistent_skip() { return wgmma_column_skip(cuda::PrefillWgmmaBuild::kTmaPersistent); }

// The kernel cuda::attention runs a prefill on here, by name.
std::string default_prefill_kernel() {
  if (!cuda::prefill_wgmma_enabled() || !cuda::prefill_wgmma_available()) return "attention_prefill_mma.cu";
  return std::string("attention_prefill_wgmma.cu, ") + cuda::prefill_wgmma_build_name(cuda::prefill_wgmma_build()) +
         " build";
}

// The chunked prefill of one new sequence of p random tokens; returns wall seconds.
double run_prefill(BenchEnv& env, Model& model, PagedKvCache& cache, int64_t p, uint32_t seed) {
  const int64_t chunk = env.opt.prefill_chunk;
  const int seq = cache.add_sequence();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(model.config().vocab_size - 1));
  env.ops.synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t a = 0; a < p; a += chunk) {
    const int64_t b = std::min(p, a + chunk);
    StepInput in;
    for (int64_t i = a; i < b; ++i) {
      in.tokens.push_back(token(rng));
      in.positions.push_back(static_cast<int32_t>(i));
      in.token_seq.push_back(0);
    }
    in.slots = cache.append(seq, b - a);
    in.block_tables = {cache.block_table(seq)};
    if (b == p) in.logit_rows = {b - a - 1};  // the first generated token's logits
    model.forward(in, cache);
  }
  env.ops.synchronize();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

PrefillRow run_length(BenchEnv& env, Model& model, int64_t p) {
  PrefillRow r;
  r.p = p;
  const int64_t blocks = (p + kPrefillBlockSize - 1) / kPrefillBlockSize;
  const KvCacheShape shape = model.kv_cache_shape(blocks, kPrefillBlockSize);
  const double need = 2.0 * shape.num_layers * blocks * kPrefillBlockSize * shape.n_kv_heads_local * shape.head_dim * 2;
  if (need > free_device_bytes() - 4.0 * (1 << 30)) {
    r.note = strf("K/V of %s tokens need %.1f GB: does not fit", tokens_str(p).c_str(), need / 1e9);
    return r;
  }
  PagedKvCache cache(shape, env.ops.compute_dtype(), env.ops);
  r.seconds = run_prefill(env, model, cache, p, static_cast<uint32_t>(p));
  r.mhz_before = sm_clock_mhz(env.stream);
  // The attention alone through the default kernel (every build comes in the pass by kernel).
  r.attn_layer_ms = time_prefill_attention(env, model.config(), cache, p);
  {  // the same calls on random K/V (the by-build table's content), in the same state of the GPU
    const PagedKvCache random_kv = one_layer_cache(env, model, p, kPrefillBlockSize, 91);
    r.attn_random_ms = time_prefill_attention(env, model.config(), random_kv, p);
  }
  if (env.opt.prefill_chunk != kWideChunk) r.attn_wide_ms = time_prefill_attention(env, model.config(), cache, p, {}, kWideChunk);
  if (lazy_rescale_skip().empty()) {
    const cuda::ScopedSwitch lazy(cuda::prefill_wgmma_lazy_rescale, cuda::set_prefill_wgmma_lazy_rescale, true);
    r.attn_lazy_ms = time_prefill_attention(env, model.config(), cache, p);
  }
  if (persistent_skip().empty()) {
    const cuda::ScopedPrefillWgmmaBuild persistent(cuda::PrefillWgmmaBuild::kTmaPersistent);
    r.attn_persistent_ms = time_prefill_attention(env, model.config(), cache, p);
    {  // (the lazy rescale's cases run in the persistent build's own test process)
      const cuda::ScopedSwitch lazy(cuda::prefill_wgmma_lazy_rescale, cuda::set_prefill_wgmma_lazy_rescale, true);
      r.attn_persistent_lazy_ms = time_prefill_attention(env, model.config(), cache, p);
    }
  }
  r.mhz_after = sm_clock_mhz(env.stream);
  const GemmRate gemm = measure_gemm_rate(env);
  r.gemm_after = gemm.flops;
  r.gemm_after_mhz = gemm.mhz;
  return r;
}

void report_rows(BenchEnv& env, const ModelConfig& c, const std::vector<PrefillRow>& rows) {
  Table t({"prompt", "chunk", "time s", "tokens/s", "GEMM TFLOP", "attention TFLOP", "TFLOP/s", "of GEMM",
           "attention ms (1 layer)", "attention TFLOP/s", "attention of GEMM", "in 8192-token chunks: attention ms",
           "of GEMM", "lazy rescale: attention ms", "of GEMM", "persistent build: attention ms", "of GEMM",
           "persistent + lazy rescale: attention ms", "of GEMM", "random K/V: attention ms", "of GEMM",
           "SM MHz after the prefill / at the end", "GEMM right after: TFLOP/s (SM MHz)", "attention of that GEMM"});
  const std::string lazy_skip = lazy_rescale_skip(), persistent_none = persistent_skip();
  for (const PrefillRow& r : rows) {
    if (!std::isfinite(r.seconds)) {
      t.row({tokens_str(r.p), "", r.note});
      continue;
    }
    const double gf = prefill_gemm_flops(c, r.p), af = prefill_attention_flops_per_layer(c, r.p);
    const double total = gf + af * c.num_hidden_layers, rate = total / r.seconds;
    const double arate = af / (r.attn_layer_ms * 1e-3);
    // (an attention time's two cells: ms and the fraction of the GEMM rate; `none` where untimed)
    const auto timed = [&](double ms, const std::string& none) -> std::pair<std::string, std::string> {
      if (!std::isfinite(ms)) return {none.empty() ? "-" : none, "-"};
      return {strf("%.2f", ms), strf("%.0f%%", 100 * af / (ms * 1e-3) / env.ceil.gemm_flops)};
    };
    const auto wide = timed(r.attn_wide_ms, ""), lazy = timed(r.attn_lazy_ms, lazy_skip),
               persistent = timed(r.attn_persistent_ms, persistent_none),
               both = timed(r.attn_persistent_lazy_ms, persistent_none),
               random = timed(r.attn_random_ms, "");
    t.row({tokens_str(r.p), strf("%lld", (long long)env.opt.prefill_chunk), strf("%.2f", r.seconds),
           strf("%.0f", r.p / r.seconds), strf("%.1f", gf / 1e12), strf("%.1f", af * c.num_hidden_layers / 1e12),
           strf("%.1f", rate / 1e12), strf("%.0f%%", 100 * rate / env.ceil.gemm_flops), strf("%.2f", r.attn_layer_ms),
           strf("%.1f", arate / 1e12), strf("%.0f%%", 100 * arate / env.ceil.gemm_flops), wide.first, wide.second,
           lazy.first, lazy.second, persistent.first, persistent.second, both.first, both.second, random.first,
           random.second,
           strf("%.0f / %.0f", r.mhz_before, r.mhz_after), strf("%.0f (%.0f)", r.gemm_after / 1e12, r.gemm_after_mhz),
           strf("%.0f%%", 100 * arate / r.gemm_after)});
  }
  env.report.table(t);
}

}  // namespace

// Whether GQA_BENCH_SKIP_WGMMA (a comma-separated list of basic, pingpong, producer, overlap,
// swizzle, tma, tma_late, tma_overlap, tma_persistent, ablation, ablation_tma; set by gpu-check for builds whose test failed or hung in the same run) names
// this wgmma build (ablation: the producer build's ablated kernels; ablation_tma: the TMA build's): a build that hangs or traps would take
// the rest of the run down with it.
bool wgmma_build_skipped(const std::string& build) {
  const char* env = std::getenv("GQA_BENCH_SKIP_WGMMA");
  if (env == nullptr || build.empty()) return false;
  const std::string list = std::string(",") + env + ",";
  return list.find("," + build + ",") != std::string::npos;
}

// Layer 0's causal attention over the cache the prefill filled, chunk by chunk as the prefill
// ran it, with CUDA events around all chunks (median of 11, 3 past 32K tokens, after 1 warm-up); each chunk's call
// through `attend` when given (the ablated builds), else the Ops' attention.
double time_prefill_attention(BenchEnv& env, const ModelConfig& c, const PagedKvCache& cache, int64_t p,
                              const std::function<void(const AttentionArgs&)>& attend, int64_t chunk_tokens) {
  Ops& ops = env.ops;
  const int64_t chunk = chunk_tokens > 0 ? chunk_tokens : env.opt.prefill_chunk, hq = c.num_attention_heads,
                hd = c.head_dim;
  const std::vector<int32_t>& bt = cache.block_table(0);
  Tensor tables = ops.alloc(DType::kI32, {1, static_cast<int64_t>(bt.size())});
  ops.upload_i32(bt.data(), tables);
  std::vector<AttentionArgs> calls;
  Tensor q = ops.alloc(ops.compute_dtype(), {chunk, hq, hd}), out = ops.alloc(ops.compute_dtype(), {chunk, hq, hd});
  fill_uniform(q, 77, 1.0f, 0.0f, env.stream);
  std::vector<Tensor> keep;  // positions and token_seq of each chunk
  for (int64_t a = 0; a < p; a += chunk) {
    const int64_t n = std::min(p, a + chunk) - a;
    std::vector<int32_t> pos(n), seq(n, 0);
    for (int64_t i = 0; i < n; ++i) pos[i] = static_cast<int32_t>(a + i);
    keep.push_back(ops.alloc(DType::kI32, {n}));
    ops.upload_i32(pos.data(), keep.back());
    keep.push_back(ops.alloc(DType::kI32, {n}));
    ops.upload_i32(seq.data(), keep.back());
    calls.push_back({q.slice_rows(0, n), cache.k(0), cache.v(0), tables, keep[keep.size() - 1], keep[keep.size() - 2],
                     out.slice_rows(0, n), 1.0f / std::sqrt(float(hd)), a + n, false});
  }
  TimingOptions t = env.timing;
  t.warmup = 1;
  // (11 where a call is short: run 15's 8K rows, ~0.3 ms, sat at 56-61% of the GEMM rate around
  // the 60%, and a median of 3 moves with one slow run)
  t.runs = p <= kPrefillManyRunsTokens ? 11 : 3;
  return time_median_ms(env.stream, t, [&](int) {
    for (const AttentionArgs& a : calls) {
      if (attend) attend(a);
      else ops.attention(a);
    }
  });
}

// One layer's cache (one layer's attention) holding one sequence of p tokens on pages of bs, K
// and V random (seeds seed, seed + 1; their content changes only how often the kernels rescale O).
PagedKvCache one_layer_cache(BenchEnv& env, Model& model, int64_t p, int64_t bs, uint32_t seed) {
  KvCacheShape shape = model.kv_cache_shape(PagedKvCache::blocks_for(p, bs), bs);
  shape.num_layers = 1;
  PagedKvCache cache(shape, env.ops.compute_dtype(), env.ops);
  cache.append(cache.add_sequence(), p);
  fill_uniform(cache.k(0), seed, 1.0f, 0.0f, env.stream);
  fill_uniform(cache.v(0), seed + 1, 1.0f, 0.0f, env.stream);
  return cache;
}

double prefill_gemm_flops(const ModelConfig& c, int64_t p) {
  return 2.0 * static_cast<double>(p) * layer_matmul_params(c) + 2.0 * lm_head_params(c);
}

double prefill_attention_flops_per_layer(const ModelConfig& c, int64_t p) {
  return 2.0 * c.num_attention_heads * c.head_dim * static_cast<double>(p) * static_cast<double>(p + 1);
}

void bench_prefill(BenchEnv& env, Model& model, double seconds) {
  const Deadline deadline(seconds);
  env.report.heading("Prefill: the same shard, one sequence, chunked");
  env.report.line("Model::forward over chunks of --prefill-chunk tokens (random ids), each chunk attending causally "
                  "to the cache so far; host wall clock around the whole prefill (one run, after the earlier sections "
                  "warmed everything up). FLOPs: 2 per weight per token for the GEMMs (LM head for the last row only) "
                  "+ attention counted causally, 2 * hq * hd * P * (P + 1) per layer. Attention alone: layer 0's "
                  "attention over all chunks on the filled cache, CUDA events, median of 11 (3 past 32K tokens), through the default kernel "
                  "(" + default_prefill_kernel() + "), the same in chunks of 8192 tokens (where --prefill-chunk is "
                  "another: the candidate for the cuda backend's default chunk), the default's calls with the lazy "
                  "rescale on (GQA_PREFILL_WGMMA_LAZY_RESCALE=1, O rescaled only where a row's max rises by more than "
                  "8 in log2 units; opt-in until this column says it pays), the same calls through the persistent build "
                  "(GQA_PREFILL_WGMMA_PERSISTENT=1: the TMA overlap build as one block an SM looping over the row "
                  "blocks; opt-in until this column says it pays), the persistent build with the lazy rescale (the two "
                  "opt-in candidates together), and the default's calls on a cache of "
                  "random K/V (uniform in [-1, 1), the by-build table's), timed right after the prefill in the order "
                  "default, random K/V, 8192-token chunks, lazy rescale, persistent build, both; the SM clock measured right after the prefill and after those timings (a 1 ms spin, clock64 over "
                  "the global timer): the attention's rate follows it. Then the ceilings' GEMM timed again and the clock "
                  "after it: the default attention's rate over that GEMM's compares the two in one state of the GPU "
                  "(the 'of GEMM' columns use the ceilings' GEMM, timed at the start of the run). Each kernel build is timed in a section of its "
                  "own after the shard's other sections.");
  {  // warm-up: cuBLASLt plans and allocations for the chunk's shapes stay out of the first row
    const int64_t w = 2 * env.opt.prefill_chunk;
    PagedKvCache warm(model.kv_cache_shape((w + kPrefillBlockSize - 1) / kPrefillBlockSize, kPrefillBlockSize), env.ops.compute_dtype(),
                      env.ops);
    run_prefill(env, model, warm, w, 1);
  }
  std::vector<PrefillRow> rows;
  int failed = 0;
  double last_s = 0;
  int64_t last_p = 0;
  for (int64_t p : env.opt.prefill_lengths) {
    // Time grows at most quadratically with the prompt: skip what would not finish in time.
    const double estimate = last_p > 0 ? last_s * (double(p) / last_p) * (double(p) / last_p) * 1.1 : 0;
    if (deadline.passed() || estimate > deadline.remaining_s()) {
      rows.push_back(noted_row(p, strf("skipped: estimated %.0f s (from the %s run) > %.0f s left of this section's budget",
                                       estimate, tokens_str(last_p).c_str(), std::max(0.0, deadline.remaining_s()))));
      continue;
    }
    progress("prefill: " + tokens_str(p) + " tokens");
    try {
      rows.push_back(run_length(env, model, p));
    } catch (const std::exception& e) {
      rows.push_back(noted_row(p, std::string("FAILED: ") + e.what()));
      progress(rows.back().note);
      ++failed;
    }
    if (std::isfinite(rows.back().seconds)) {
      last_s = rows.back().seconds;
      last_p = p;
    }
  }
  report_rows(env, model.config(), rows);
  env.report.save();
  // A failed length is reported in its row; failing the section too makes gqa-bench exit non-zero.
  GQA_CHECK(failed == 0, failed << " prefill length(s) failed (above)");
}

}  // namespace gqa::bench
