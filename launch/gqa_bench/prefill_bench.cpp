#include "launch/gqa_bench/prefill_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <utility>

#include "kernels/cuda/attention_prefill_wgmma.h"
#include "kernels/cuda/attention_prefill_wgmma_ablation.h"
#include "kernels/cuda/cuda_check.h"
#include "launch/gqa_bench/random_model.h"
#include "runtime/kv_cache.h"

namespace gqa::bench {
namespace {

constexpr int64_t kBlockSize = 16;

struct PrefillRow {
  int64_t p = 0;
  double seconds = NAN;
  double attn_layer_ms = NAN;  // one layer's attention over all chunks (the default kernel)
  std::string note;
};

// Whether GQA_BENCH_SKIP_WGMMA (a comma-separated list of basic, pingpong, producer, overlap,
// swizzle, tma, ablation; set by gpu-check for builds whose test failed or hung in the same run) names this wgmma
// build (ablation: the producer build's ablated kernels): a build that hangs or traps would take
// the rest of the run down with it.
bool wgmma_build_skipped(const std::string& build) {
  const char* env = std::getenv("GQA_BENCH_SKIP_WGMMA");
  if (env == nullptr || build.empty()) return false;
  const std::string list = std::string(",") + env + ",";
  return list.find("," + build + ",") != std::string::npos;
}

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

// Layer 0's causal attention over the cache the prefill filled, chunk by chunk as the prefill
// ran it, with CUDA events around all chunks (median of 3 after 1 warm-up); each chunk's call
// through `attend` when given (the ablated builds), else the Ops' attention.
double time_prefill_attention(BenchEnv& env, const ModelConfig& c, const PagedKvCache& cache, int64_t p,
                              const std::function<void(const AttentionArgs&)>& attend = {}) {
  Ops& ops = env.ops;
  const int64_t chunk = env.opt.prefill_chunk, hq = c.num_attention_heads, hd = c.head_dim;
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
  t.runs = 3;
  return time_median_ms(env.stream, t, [&](int) {
    for (const AttentionArgs& a : calls) {
      if (attend) attend(a);
      else ops.attention(a);
    }
  });
}

PrefillRow run_length(BenchEnv& env, Model& model, int64_t p) {
  PrefillRow r;
  r.p = p;
  const int64_t blocks = (p + kBlockSize - 1) / kBlockSize;
  const KvCacheShape shape = model.kv_cache_shape(blocks, kBlockSize);
  const double need = 2.0 * shape.num_layers * blocks * kBlockSize * shape.n_kv_heads_local * shape.head_dim * 2;
  if (need > free_device_bytes() - 4.0 * (1 << 30)) {
    r.note = strf("K/V of %s tokens need %.1f GB: does not fit", tokens_str(p).c_str(), need / 1e9);
    return r;
  }
  PagedKvCache cache(shape, env.ops.compute_dtype(), env.ops);
  r.seconds = run_prefill(env, model, cache, p, static_cast<uint32_t>(p));
  // The attention alone through the default kernel (every build comes in the pass by kernel).
  r.attn_layer_ms = time_prefill_attention(env, model.config(), cache, p);
  return r;
}

void report_rows(BenchEnv& env, const ModelConfig& c, const std::vector<PrefillRow>& rows) {
  Table t({"prompt", "chunk", "time s", "tokens/s", "GEMM TFLOP", "attention TFLOP", "TFLOP/s", "of GEMM",
           "attention ms (1 layer)", "attention TFLOP/s", "attention of GEMM"});
  for (const PrefillRow& r : rows) {
    if (!std::isfinite(r.seconds)) {
      t.row({tokens_str(r.p), "", r.note});
      continue;
    }
    const double gf = prefill_gemm_flops(c, r.p), af = prefill_attention_flops_per_layer(c, r.p);
    const double total = gf + af * c.num_hidden_layers, rate = total / r.seconds;
    const double arate = af / (r.attn_layer_ms * 1e-3);
    t.row({tokens_str(r.p), strf("%lld", (long long)env.opt.prefill_chunk), strf("%.2f", r.seconds),
           strf("%.0f", r.p / r.seconds), strf("%.1f", gf / 1e12), strf("%.1f", af * c.num_hidden_layers / 1e12),
           strf("%.1f", rate / 1e12), strf("%.0f%%", 100 * rate / env.ceil.gemm_flops), strf("%.1f", r.attn_layer_ms),
           strf("%.1f", arate / 1e12), strf("%.0f%%", 100 * arate / env.ceil.gemm_flops)});
  }
  env.report.table(t);
}

// The producer build with parts of its work left out (attention_prefill_wgmma_ablation.h), per
// prompt: which part bounds the default prefill. Rows: the full build, then each mask; columns per
// prompt: ms, the time as a fraction of the full build's, and TFLOP/s at the full build's FLOP count
// where QK and PV both still run.
class AblationTable {
 public:
  explicit AblationTable(const std::vector<int64_t>& prompts) : prompts_(prompts) {
    masks_.push_back(0);
    masks_.insert(masks_.end(), std::begin(cuda::kPrefillAblations), std::end(cuda::kPrefillAblations));
    cells_.resize(masks_.size());
  }

  // One prompt's masks, each while the deadline allows ("skipped" after it). A failure is
  // reported in its cell and ends the table (later masks and prompts would run on whatever state
  // it left); it does not fail the section: the by-build rows above are the section's result.
  void time_prompt(BenchEnv& env, const ModelConfig& c, const PagedKvCache& cache, int64_t p,
                   const Deadline& deadline) {
    if (failed_) return;
    progress("prefill attention, producer build with parts left out: " + tokens_str(p) + " tokens");
    const double af = prefill_attention_flops_per_layer(c, p);
    double full_ms = NAN;
    for (size_t i = 0; i < masks_.size(); ++i) {
      const unsigned skip = masks_[i];
      if (deadline.passed()) {
        cells_[i][p] = {"skipped", "(time", "budget)"};
        continue;
      }
      try {
        const double ms = time_prefill_attention(env, c, cache, p, [&](const AttentionArgs& a) {
          cuda::attention_prefill_wgmma_ablated(a, skip, env.stream);
        });
        if (skip == 0) full_ms = ms;
        const bool both_gemms = (skip & (cuda::kAblateQk | cuda::kAblatePv)) == 0;
        cells_[i][p] = {strf("%.2f", ms), strf("%.2f", ms / full_ms),
                        both_gemms ? strf("%.1f", af / (ms * 1e-3) / 1e12) : "-"};
      } catch (const std::exception& e) {
        cells_[i][p] = {"FAILED", e.what(), ""};
        progress("prefill ablation " + cuda::prefill_ablation_name(skip) + " failed: " + e.what());
        failed_ = true;
        return;
      }
    }
  }

  void report(BenchEnv& env) const {
    bool any = false;
    for (const auto& row : cells_) any = any || !row.empty();
    if (!any) return;
    env.report.line("The default build (producer) with parts of its work left out, a timing aid whose outputs are not "
                    "attention (kernels/cuda/attention_prefill_wgmma_ablation.h): no copies (the producer hands every "
                    "stage over without copying), no softmax (P = S), no QK (S = 0), no PV, no turns (the consumer "
                    "warpgroups issue without taking turns), and one variant that is still the attention: rotated "
                    "tiles (each block takes its K/V tiles from tile blockIdx mod n on, so the resident blocks do not "
                    "all read the same tile of the one KV head at once); same calls and timing as above. 'of full' is the time "
                    "over the full build's; TFLOP/s counts the full attention's FLOPs where both GEMMs still run.");
    std::vector<std::string> header = {"build"};
    for (int64_t p : prompts_) {
      header.insert(header.end(), {tokens_str(p) + " ms", "of full", "TFLOP/s"});
    }
    Table t(header);
    for (size_t i = 0; i < masks_.size(); ++i) {
      std::vector<std::string> row = {cuda::prefill_ablation_name(masks_[i])};
      for (int64_t p : prompts_) {
        const auto it = cells_[i].find(p);
        if (it == cells_[i].end()) {
          row.insert(row.end(), {"-", "-", "-"});
        } else {
          row.insert(row.end(), it->second.begin(), it->second.end());
        }
      }
      t.row(row);
    }
    env.report.table(t);
  }

 private:
  std::vector<int64_t> prompts_;
  std::vector<unsigned> masks_;
  std::vector<std::map<int64_t, std::vector<std::string>>> cells_;  // [mask][prompt] -> ms, of full, TFLOP/s
  bool failed_ = false;
};

// One layer's cache (one layer's attention) holding one sequence of p tokens on pages of bs, K
// and V random (seeds seed, seed + 1; their content does not change the work).
PagedKvCache one_layer_cache(BenchEnv& env, Model& model, int64_t p, int64_t bs, uint32_t seed) {
  KvCacheShape shape = model.kv_cache_shape((p + bs - 1) / bs, bs);
  shape.num_layers = 1;
  PagedKvCache cache(shape, env.ops.compute_dtype(), env.ops);
  cache.append(cache.add_sequence(), p);
  fill_uniform(cache.k(0), seed, 1.0f, 0.0f, env.stream);
  fill_uniform(cache.v(0), seed + 1, 1.0f, 0.0f, env.stream);
  return cache;
}

// The producer, swizzle and TMA builds on caches of 16- to 256-token pages, at one prompt length:
// the TMA build issues a box per page and 64-dim half (32 K and V boxes a tile at 16-token pages
// and hd 128, 4 at 128-token pages), the cp.async builds look every key's page up alike at any
// size, so the rows say what the page count costs each. The page size is a cache-wide choice (the
// decode attention reads the same pages: gqa-attn-bench's sweep times 64- and 256-token pages).
void bench_page_sizes(BenchEnv& env, Model& model, int64_t p, const Deadline& deadline) {
  const ModelConfig& c = model.config();
  const cuda::ScopedSwitch wgmma(cuda::prefill_wgmma_enabled, cuda::set_prefill_wgmma, true);  // (whatever the env says)
  // (build, tiles in rotated order): the rotated TMA build too, so one run says whether rotation
  // (the ablation table's "rotated tiles", for the producer build) and TMA add up
  const std::pair<cuda::PrefillWgmmaBuild, bool> builds[] = {{cuda::PrefillWgmmaBuild::kProducer, false},
                                                             {cuda::PrefillWgmmaBuild::kSwizzle, false},
                                                             {cuda::PrefillWgmmaBuild::kTma, false},
                                                             {cuda::PrefillWgmmaBuild::kTma, true}};
  env.report.line("The same attention (" + tokens_str(p) + " tokens, same calls and timing) on caches of larger "
                  "pages (--block-size): the producer (default), swizzle and TMA builds, and the TMA build with its "
                  "tiles in rotated order (GQA_PREFILL_WGMMA_ROTATE=1); the TMA build issues a box per page (per 128 "
                  "keys of a larger page) and 64-dim half of each tile. The pages of the one sequence lie in order "
                  "in the cache (a prefill's fresh pages; the decode fixtures shuffle theirs).");
  const std::vector<std::string> header = {"page (tokens)", "producer ms", "of GEMM", "swizzle ms", "of GEMM",
                                           "TMA ms",        "of GEMM",     "TMA rotated ms", "of GEMM"};
  const int64_t pages[] = {16, 64, 128, 256};
  std::map<int64_t, std::vector<std::string>> cells;  // page size -> 2 cells per build
  for (int64_t bs : pages) cells[bs].assign(2 * std::size(builds), "-");
  const double af = prefill_attention_flops_per_layer(c, p);
  const size_t mark = env.report.mark();
  // Round 0 the producer build (verified on an H200) at every page size, round 1 the swizzle and
  // TMA builds (unrun when written: a trap there must not cost round 0's cells); a failing cell
  // says so and the next one runs (after a trap each fails, each saying so).
  for (int round = 0; round < 2; ++round) {
    for (int64_t bs : pages) {
      std::vector<std::string>& row = cells[bs];
      bool any = false;
      for (size_t i = 0; i < std::size(builds); ++i) any = any || ((builds[i].first != cuda::PrefillWgmmaBuild::kProducer) == (round == 1));
      if (!any) continue;
      std::optional<PagedKvCache> cache;
      for (size_t i = 0; i < std::size(builds); ++i) {
        const auto& [b, rotated] = builds[i];
        if ((b != cuda::PrefillWgmmaBuild::kProducer) != (round == 1)) continue;
        std::string* out = &row[2 * i];
        if (wgmma_build_skipped(cuda::prefill_wgmma_build_name(b))) {
          out[0] = "skipped";
          out[1] = "(test failed)";
          continue;
        }
        if (deadline.passed()) {
          out[0] = "skipped";
          out[1] = "(time budget)";
          continue;
        }
        progress("prefill attention by page size: " + std::to_string(bs) + "-token pages, " +
                 cuda::prefill_wgmma_build_name(b) + (rotated ? " rotated" : ""));
        try {
          if (!cache) cache.emplace(one_layer_cache(env, model, p, bs, 93));
          const cuda::ScopedPrefillWgmmaBuild build(b);
          const cuda::ScopedSwitch order(cuda::prefill_wgmma_rotate, cuda::set_prefill_wgmma_rotate, rotated);
          const int64_t fallbacks = cuda::prefill_wgmma_fallbacks();
          const double ms = time_prefill_attention(env, c, *cache, p);
          if (cuda::prefill_wgmma_fallbacks() != fallbacks) {
            out[0] = "fell back";
            out[1] = "(ping-pong)";
          } else {
            out[0] = strf("%.2f", ms);
            out[1] = strf("%.0f%%", 100 * af / (ms * 1e-3) / env.ceil.gemm_flops);
          }
        } catch (const std::exception& e) {
          out[0] = std::string("FAILED: ") + e.what();
          out[1] = "";
          progress(out[0]);
        }
      }
      Table t(header);
      for (int64_t size : pages) {
        std::vector<std::string> r = {std::to_string(size)};
        r.insert(r.end(), cells[size].begin(), cells[size].end());
        t.row(r);
      }
      env.report.replace_from(mark, t);
      env.report.save();
    }
  }
}

}  // namespace

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
                  "attention over all chunks on the filled cache, CUDA events, median of 3, through the default kernel "
                  "(" + default_prefill_kernel() + "); each kernel build is timed in a section of its own after the "
                  "shard's other sections.");
  {  // warm-up: cuBLASLt plans and allocations for the chunk's shapes stay out of the first row
    const int64_t w = 2 * env.opt.prefill_chunk;
    PagedKvCache warm(model.kv_cache_shape((w + kBlockSize - 1) / kBlockSize, kBlockSize), env.ops.compute_dtype(),
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
      rows.push_back({p, NAN, NAN,
                      strf("skipped: estimated %.0f s (from the %s run) > %.0f s left of this section's budget",
                           estimate, tokens_str(last_p).c_str(), std::max(0.0, deadline.remaining_s()))});
      continue;
    }
    progress("prefill: " + tokens_str(p) + " tokens");
    try {
      rows.push_back(run_length(env, model, p));
    } catch (const std::exception& e) {
      rows.push_back({p, NAN, NAN, std::string("FAILED: ") + e.what()});
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

void bench_prefill_opt_in(BenchEnv& env, Model& model, double seconds) {
  const Deadline deadline(seconds);
  env.report.heading("Prefill attention by kernel build (timed after the shard's other sections)");
  if (!cuda::prefill_wgmma_available()) {
    env.report.line("Not run: the wgmma prefill is sm_90a code and this is not a compute capability 9.0 device.");
    return;
  }
  env.report.line("Layer 0's causal attention over a cache of random K/V (its content does not change the work), "
                  "chunk by chunk as a prefill of --prefill-chunk tokens runs it, CUDA events, median of 3: the "
                  "mma.sync kernel (GQA_PREFILL_WGMMA=0), the basic wgmma kernel (GQA_PREFILL_WGMMA_PRODUCER=0), its "
                  "ping-pong build (GQA_PREFILL_WGMMA_PRODUCER=0 GQA_PREFILL_WGMMA_PINGPONG=1), the ping-pong build "
                  "with a producer warpgroup (the default), that with each warpgroup's softmax overlapping its "
                  "previous tile's P V (GQA_PREFILL_WGMMA_OVERLAP=1), the producer build on 128-byte-swizzled "
                  "tiles (GQA_PREFILL_WGMMA_SWIZZLE=1) and that loading its K/V tiles by TMA "
                  "(GQA_PREFILL_WGMMA_TMA=1), against the measured GEMM rate.");
  const ModelConfig& c = model.config();
  const std::vector<std::string> header = {
      "prompt",       "mma.sync ms", "TFLOP/s", "of GEMM",    "wgmma ms", "TFLOP/s", "of GEMM", "ping-pong ms",
      "TFLOP/s",      "of GEMM",     "producer ms", "TFLOP/s", "of GEMM", "overlap ms", "TFLOP/s", "of GEMM",
      "swizzle ms",   "TFLOP/s",     "of GEMM",  "TMA ms",   "TFLOP/s", "of GEMM"};
  // Cells per prompt: mma.sync's, then each build's of kPrefillWgmmaBuilds (3 each). Round 0 times
  // mma.sync and the builds an H200 verified (basic, ping-pong, producer, overlap) at every prompt,
  // round 1 the producer build's ablation (its own table), round 2 the swizzle and TMA builds: the
  // later rounds' kernels had not run on a GPU when written, and a trap in one poisons the context:
  // it must not cost an earlier round's cells at a later prompt.
  const size_t n_builds = std::size(cuda::kPrefillWgmmaBuilds);
  const auto unrun = [](cuda::PrefillWgmmaBuild b) {
    return b == cuda::PrefillWgmmaBuild::kSwizzle || b == cuda::PrefillWgmmaBuild::kTma;
  };
  std::map<int64_t, std::vector<std::string>> cells;
  std::map<int64_t, std::string> notes;  // a prompt's failure (its later cells then stay "-")
  for (int64_t p : env.opt.prefill_lengths) cells[p].assign(3 * (1 + n_builds), "-");
  const auto table = [&] {
    Table t(header);
    for (int64_t p : env.opt.prefill_lengths) {
      std::vector<std::string> row = {tokens_str(p)};
      row.insert(row.end(), cells[p].begin(), cells[p].end());
      if (notes.count(p) != 0) row.push_back(notes[p]);
      t.row(row);
    }
    return t;
  };
  const size_t mark = env.report.mark();
  int failed = 0;
  AblationTable ablated(env.opt.prefill_lengths);
  // This table and the ablation's, as far as measured, saved (a kill keeps the cells so far).
  const auto publish = [&] {
    env.report.replace_from(mark, table());
    if (wgmma_build_skipped("producer") || wgmma_build_skipped("ablation")) {
      env.report.line("The producer build's ablation table: not run (the producer build's or the ablation's test "
                      "failed in this run: GQA_BENCH_SKIP_WGMMA).");
    }
    ablated.report(env);
    env.report.save();
  };
  for (int round = 0; round < 3; ++round) {
    if (round == 1 && (wgmma_build_skipped("producer") || wgmma_build_skipped("ablation"))) continue;
    for (int64_t p : env.opt.prefill_lengths) {
      if (notes.count(p) != 0) continue;
      std::vector<std::string>& row = cells[p];
      const auto put = [&](size_t slot, std::vector<std::string> v) {
        for (size_t k = 0; k < 3; ++k) row[3 * slot + k] = k < v.size() ? v[k] : "";
      };
      if (deadline.passed()) {
        if (round == 1) continue;  // (the ablation table marks its own cells)
        for (size_t i = 0; i < n_builds; ++i) {
          if (unrun(cuda::kPrefillWgmmaBuilds[i]) == (round == 2)) put(i + 1, {"skipped", "(time", "budget)"});
        }
        if (round == 0) put(0, {"skipped", "(time", "budget)"});
        continue;
      }
      progress("prefill attention by kernel build: " + tokens_str(p) + " tokens" + (round == 1 ? " (ablation)" : round == 2 ? " (swizzle, TMA)" : ""));
      try {
        const PagedKvCache cache = one_layer_cache(env, model, p, kBlockSize, 91);
        const double af = prefill_attention_flops_per_layer(c, p);
        const auto time_into = [&](size_t slot) {
          const double ms = time_prefill_attention(env, c, cache, p), rate = af / (ms * 1e-3);
          put(slot, {strf("%.1f", ms), strf("%.1f", rate / 1e12), strf("%.0f%%", 100 * rate / env.ceil.gemm_flops)});
        };
        if (round == 0) {
          const cuda::ScopedSwitch mma(cuda::prefill_wgmma_enabled, cuda::set_prefill_wgmma, false);
          time_into(0);
        }
        const cuda::ScopedSwitch wgmma(cuda::prefill_wgmma_enabled, cuda::set_prefill_wgmma, true);
        const cuda::ScopedSwitch in_order(cuda::prefill_wgmma_rotate, cuda::set_prefill_wgmma_rotate, false);
        if (round == 1) ablated.time_prompt(env, c, cache, p, deadline);
        for (size_t i = 0; i < n_builds && round != 1; ++i) {
          const cuda::PrefillWgmmaBuild b = cuda::kPrefillWgmmaBuilds[i];
          if (unrun(b) != (round == 2)) continue;
          if (wgmma_build_skipped(cuda::prefill_wgmma_build_name(b))) {
            put(i + 1, {"skipped", "(its test", "failed)"});
            continue;
          }
          const cuda::ScopedPrefillWgmmaBuild build(b);
          const int64_t fallbacks = cuda::prefill_wgmma_fallbacks();
          time_into(i + 1);
          if (cuda::prefill_wgmma_fallbacks() != fallbacks) put(i + 1, {"fell back", "(to the", "ping-pong)"});
        }
      } catch (const std::exception& e) {
        notes[p] = std::string("FAILED: ") + e.what();
        progress(notes[p]);
        ++failed;
      }
      publish();
    }
  }
  publish();
  // (the tables above are this section's result, saved: kept should the one below hang)
  if (!env.opt.prefill_lengths.empty() && cuda::prefill_wgmma_available()) {
    bench_page_sizes(env, model, *std::max_element(env.opt.prefill_lengths.begin(), env.opt.prefill_lengths.end()),
                     deadline);
  }
  env.report.save();
  GQA_CHECK(failed == 0, failed << " prompt length(s) failed (above)");
}

}  // namespace gqa::bench
