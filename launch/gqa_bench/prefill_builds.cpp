#include "launch/gqa_bench/prefill_builds.h"

#include <algorithm>
#include <exception>
#include <initializer_list>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cuda/attention_prefill_wgmma.h"
#include "kernels/cuda/cuda_check.h"
#include "launch/gqa_bench/prefill_ablation.h"
#include "launch/gqa_bench/prefill_bench.h"
#include "runtime/kv_cache.h"

namespace gqa::bench {
namespace {

// The by-build table's rounds over the prompts: mma.sync and every build; the producer build's
// ablation; the TMA build's ablation (last in a run).
enum class Round { kBuilds, kProducerAblation, kTmaAblation };

// The page-size table's builds, their tiles in order. The TMA build's rotated order, a column
// here until run 11, stayed within a few percent of its order (runs 9-11: mostly 1-2.4% slower,
// 1-6% faster in a few cells), so the last column is now the default build (the TMA build's
// overlap variant, whose tiles stay in order).
constexpr cuda::PrefillWgmmaBuild kPageBuilds[] = {cuda::PrefillWgmmaBuild::kProducer, cuda::PrefillWgmmaBuild::kSwizzle,
                                                   cuda::PrefillWgmmaBuild::kTma, cuda::PrefillWgmmaBuild::kTmaOverlap};
constexpr int64_t kPageSizes[] = {16, 64, 128, 256};

}  // namespace

struct PrefillByBuild::State {
  bool available = false;  // a compute capability 9.0 device (the wgmma builds are sm_90a code)
  std::vector<int64_t> prompts;
  size_t slot = 0, page_slot = 0;
  // by-build cells per prompt: mma.sync's, then each build's of kPrefillWgmmaBuilds (3 each)
  std::map<int64_t, std::vector<std::string>> cells;
  std::map<int64_t, std::string> notes;  // a prompt's failure (its later cells then stay "-")
  std::map<int64_t, double> mhz;         // the SM clock right after a prompt's builds (sm_clock_mhz)
  std::optional<AblationTable> ablated, ablated_tma;
  int64_t page_prompt = 0;
  std::map<int64_t, std::vector<std::string>> page_cells;  // page size -> 2 cells per kPageBuilds entry
  int failed = 0;

  void publish(BenchEnv& env) const {
    env.report.fill(slot, [&](Report& out) {
      std::vector<std::string> header = {"prompt", "mma.sync ms", "TFLOP/s", "of GEMM"};
      for (cuda::PrefillWgmmaBuild b : cuda::kPrefillWgmmaBuilds) {
        const std::string name = b == cuda::PrefillWgmmaBuild::kBasic      ? "wgmma"
                                 : b == cuda::PrefillWgmmaBuild::kPingPong ? "ping-pong"
                                 : b == cuda::PrefillWgmmaBuild::kTma      ? "TMA"
                                 : b == cuda::PrefillWgmmaBuild::kTmaLate  ? "TMA late turns"
                                 : b == cuda::PrefillWgmmaBuild::kTmaOverlap ? "TMA overlap"
                                 : b == cuda::PrefillWgmmaBuild::kTmaPersistent ? "TMA persistent"
                                                                                : cuda::prefill_wgmma_build_name(b);
        header.insert(header.end(), {name + " ms", "TFLOP/s", "of GEMM"});
      }
      header.push_back("SM MHz after the row");
      header.push_back("note");
      Table t(header);
      for (int64_t p : prompts) {
        std::vector<std::string> row = {tokens_str(p)};
        row.insert(row.end(), cells.at(p).begin(), cells.at(p).end());
        row.push_back(mhz.count(p) != 0 ? strf("%.0f", mhz.at(p)) : "-");
        row.push_back(notes.count(p) != 0 ? notes.at(p) : "");
        t.row(row);
      }
      out.table(t);
      if (wgmma_build_skipped("producer") || wgmma_build_skipped("ablation")) {
        out.line("The producer build's ablation table: not run (the producer build's or the ablation's test failed in "
                 "this run: GQA_BENCH_SKIP_WGMMA).");
      }
      if (ablated) ablated->report(out);
      if (wgmma_build_skipped("tma") || wgmma_build_skipped("ablation_tma")) {
        out.line("The TMA build's ablation table: not run (the TMA build's or its ablation's test failed in this run: "
                 "GQA_BENCH_SKIP_WGMMA).");
      }
      if (ablated_tma) ablated_tma->report(out);
    });
    if (page_prompt > 0) {
      env.report.fill(page_slot, [&](Report& out) {
        Table t({"page (tokens)", "producer ms", "of GEMM", "swizzle ms", "of GEMM", "TMA ms", "of GEMM",
                 "TMA overlap ms", "of GEMM"});
        for (int64_t bs : kPageSizes) {
          std::vector<std::string> row = {std::to_string(bs)};
          row.insert(row.end(), page_cells.at(bs).begin(), page_cells.at(bs).end());
          t.row(row);
        }
        out.table(t);
      });
    }
    env.report.save();
  }

  // One pass over the prompts (in a run: kBuilds, then kProducerAblation, then kTmaAblation).
  void by_build_round(BenchEnv& env, Model& model, const Deadline& deadline, Round round) {
    const ModelConfig& c = model.config();
    const size_t n_builds = std::size(cuda::kPrefillWgmmaBuilds);
    if (round == Round::kProducerAblation && (wgmma_build_skipped("producer") || wgmma_build_skipped("ablation"))) {
      return;
    }
    if (round == Round::kTmaAblation && (wgmma_build_skipped("tma") || wgmma_build_skipped("ablation_tma"))) return;
    AblationTable* ablation = round == Round::kProducerAblation ? &*ablated
                              : round == Round::kTmaAblation    ? &*ablated_tma
                                                                : nullptr;
    for (int64_t p : prompts) {
      if (notes.count(p) != 0) continue;
      std::vector<std::string>& row = cells[p];
      const auto put = [&](size_t slot_index, std::vector<std::string> v) {
        for (size_t k = 0; k < 3; ++k) row[3 * slot_index + k] = k < v.size() ? v[k] : "";
      };
      const auto skipped_by_test = [](cuda::PrefillWgmmaBuild b) {
        return wgmma_build_skipped(cuda::prefill_wgmma_build_name(b));
      };
      if (deadline.passed()) {
        if (ablation != nullptr) ablation->skip_prompt(p);
        if (round == Round::kBuilds) put(0, {"skipped", "(time", "budget)"});
        for (size_t i = 0; i < n_builds && ablation == nullptr; ++i) {
          const cuda::PrefillWgmmaBuild b = cuda::kPrefillWgmmaBuilds[i];
          put(i + 1, skipped_by_test(b) ? std::vector<std::string>{"skipped", "(its test", "failed)"}
                                        : std::vector<std::string>{"skipped", "(time", "budget)"});
        }
        continue;
      }
      progress("prefill attention by kernel build: " + tokens_str(p) + " tokens" +
               (round == Round::kProducerAblation ? " (producer ablation)"
                : round == Round::kTmaAblation    ? " (TMA ablation)"
                                                  : ""));
      try {
        const PagedKvCache cache = one_layer_cache(env, model, p, kPrefillBlockSize, 91);
        const double af = prefill_attention_flops_per_layer(c, p);
        const auto time_into = [&](size_t slot_index) {
          const double ms = time_prefill_attention(env, c, cache, p), rate = af / (ms * 1e-3);
          put(slot_index,
              {strf(ms < 10 ? "%.2f" : "%.1f", ms), strf("%.1f", rate / 1e12),  // (8K's builds differ in 0.01 ms)
               strf("%.0f%%", 100 * rate / env.ceil.gemm_flops)});
        };
        if (round == Round::kBuilds) {
          const cuda::ScopedSwitch mma(cuda::prefill_wgmma_enabled, cuda::set_prefill_wgmma, false);
          time_into(0);
        }
        const cuda::ScopedSwitch wgmma(cuda::prefill_wgmma_enabled, cuda::set_prefill_wgmma, true);
        // (tiles in order whatever GQA_PREFILL_WGMMA_ROTATE says: the ablation's and the page table's
        // rotated rows time the other order)
        const cuda::ScopedSwitch in_order(cuda::prefill_wgmma_rotate, cuda::set_prefill_wgmma_rotate, false);
        if (ablation != nullptr) ablation->time_prompt(env, c, cache, p, deadline);
        for (size_t i = 0; i < n_builds && ablation == nullptr; ++i) {
          const cuda::PrefillWgmmaBuild b = cuda::kPrefillWgmmaBuilds[i];
          if (skipped_by_test(b)) {
            put(i + 1, {"skipped", "(its test", "failed)"});
            continue;
          }
          const cuda::ScopedPrefillWgmmaBuild build(b);
          const int64_t fallbacks = cuda::prefill_wgmma_fallbacks();
          time_into(i + 1);
          if (cuda::prefill_wgmma_fallbacks() != fallbacks) put(i + 1, {"fell back", "(to the", "ping-pong)"});
        }
        if (round == Round::kBuilds) mhz[p] = sm_clock_mhz(env.stream);
      } catch (const std::exception& e) {
        notes[p] = std::string("FAILED: ") + e.what();
        progress(notes[p]);
        ++failed;
      }
      publish(env);
    }
  }

  // An ablation pass after the builds' (its failures were its own section's); throws, saying
  // `where`, when a prompt failed.
  void later_pass(BenchEnv& env, Model& model, double seconds, Round round, const char* where) {
    const Deadline deadline(seconds);
    if (!available || prompts.empty()) return;
    failed = 0;
    by_build_round(env, model, deadline, round);
    publish(env);
    GQA_CHECK(failed == 0, failed << " prompt length(s) failed " << where);
  }

  // The page-size table at the longest prompt. A failing cell says so and the next one runs (after
  // a trap each fails, each saying so).
  void pages_round(BenchEnv& env, Model& model, const Deadline& deadline) {
    const ModelConfig& c = model.config();
    const int64_t p = page_prompt;
    const double af = prefill_attention_flops_per_layer(c, p);
    const cuda::ScopedSwitch wgmma(cuda::prefill_wgmma_enabled, cuda::set_prefill_wgmma, true);
    // (tiles in order whatever GQA_PREFILL_WGMMA_ROTATE says)
    const cuda::ScopedSwitch order(cuda::prefill_wgmma_rotate, cuda::set_prefill_wgmma_rotate, false);
    for (int64_t bs : kPageSizes) {
      std::optional<PagedKvCache> cache;
      for (size_t i = 0; i < std::size(kPageBuilds); ++i) {
        const cuda::PrefillWgmmaBuild b = kPageBuilds[i];
        std::string* out = &page_cells[bs][2 * i];
        if (wgmma_build_skipped(cuda::prefill_wgmma_build_name(b))) {
          out[0] = "skipped";
          out[1] = "(its test failed)";
          continue;
        }
        if (deadline.passed()) {
          out[0] = "skipped";
          out[1] = "(time budget)";
          continue;
        }
        progress("prefill attention by page size: " + std::to_string(bs) + "-token pages, " +
                 cuda::prefill_wgmma_build_name(b));
        try {
          if (!cache) cache.emplace(one_layer_cache(env, model, p, bs, 93));
          const cuda::ScopedPrefillWgmmaBuild build(b);
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
        publish(env);
      }
    }
  }
};

PrefillByBuild::PrefillByBuild() : s_(std::make_unique<State>()) {}
PrefillByBuild::~PrefillByBuild() = default;

void PrefillByBuild::verified(BenchEnv& env, Model& model, double seconds) {
  const Deadline deadline(seconds);
  State& s = *s_;
  env.report.heading("Prefill attention by kernel build");
  s.available = cuda::prefill_wgmma_available();
  if (!s.available) {
    env.report.line("Not run: the wgmma prefill is sm_90a code and this is not a compute capability 9.0 device.");
    return;
  }
  env.report.line(
      "Layer 0's causal attention over a cache of random K/V on " + std::to_string(kPrefillBlockSize) +
      "-token pages (uniform in [-1, 1), as q; the content changes only how often a row's running max moves and "
      "O is rescaled; the whole-model table above times the default build on the model's own K/V), chunk by chunk "
      "as a prefill of --prefill-chunk tokens runs it, CUDA events, median of 11 (3 past 32K tokens): the mma.sync kernel "
      "(GQA_PREFILL_WGMMA=0), the basic wgmma kernel, its ping-pong build, the ping-pong build with a producer "
      "warpgroup, that with each warpgroup's softmax overlapping its previous tile's P V, the producer build on "
      "128-byte-swizzled tiles, that loading its K/V tiles by TMA (GQA_PREFILL_WGMMA_TMA_OVERLAP=0; "
      "GQA_PREFILL_WGMMA_TMA=0 leaves the swizzle build, and GQA_PREFILL_WGMMA_TMA=0 GQA_PREFILL_WGMMA_SWIZZLE=0 the "
      "producer build), and the TMA build's three variants: 'TMA late turns' (GQA_PREFILL_WGMMA_LATE_TURNS=1: each "
      "consumer warpgroup passes its tensor-core turn once its GEMM has completed), 'TMA overlap' (the default "
      "since run 11: each warpgroup's softmax under its own P V of the tile before) and 'TMA persistent' "
      "(GQA_PREFILL_WGMMA_PERSISTENT=1, opt-in: TMA overlap as one block an SM looping over the row blocks, two "
      "stages with K and V handed over apart, two q buffers); against the measured GEMM "
      "rate (the ceilings' GEMM: its SM clock is in that row); every build's tiles in order; the SM clock measured "
      "right after each prompt's builds (a rate follows the clock).");
  s.prompts = env.opt.prefill_lengths;
  for (int64_t p : s.prompts) s.cells[p].assign(3 * (1 + std::size(cuda::kPrefillWgmmaBuilds)), "-");
  s.ablated.emplace(s.prompts, /*tma=*/false);
  s.ablated_tma.emplace(s.prompts, /*tma=*/true);
  s.slot = env.report.slot();
  if (!s.prompts.empty()) {
    s.page_prompt = *std::max_element(s.prompts.begin(), s.prompts.end());
    for (int64_t bs : kPageSizes) s.page_cells[bs].assign(2 * std::size(kPageBuilds), "-");
    env.report.line("The same attention (" + tokens_str(s.page_prompt) + " tokens, same calls and timing) on caches "
                    "of other page sizes (gqa-generate's --block-size; the table above: " +
                    std::to_string(kPrefillBlockSize) + "-token pages): the producer, swizzle and TMA builds, and "
                    "the TMA build's overlap variant (the default); the TMA builds issue a box per "
                    "page (per 128 keys of a larger page) and 64-dim half of each tile. The pages of the one sequence "
                    "lie in order in the cache (a prefill's fresh pages; the decode fixtures shuffle theirs).");
    s.page_slot = env.report.slot();
  }
  s.publish(env);
  s.by_build_round(env, model, deadline, Round::kBuilds);
  if (s.page_prompt > 0) s.pages_round(env, model, deadline);
  s.publish(env);
  GQA_CHECK(s.failed == 0, s.failed << " prompt length(s) failed in the verified builds (in the by-build table)");
}

void PrefillByBuild::producer_ablation(BenchEnv& env, Model& model, double seconds) {
  s_->later_pass(env, model, seconds, Round::kProducerAblation, "in the producer build's ablation");
}

void PrefillByBuild::tma_ablation(BenchEnv& env, Model& model, double seconds) {
  s_->later_pass(env, model, seconds, Round::kTmaAblation, "in the TMA build's ablation");
}

}  // namespace gqa::bench
