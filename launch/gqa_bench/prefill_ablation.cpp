#include "launch/gqa_bench/prefill_ablation.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <initializer_list>

#include "kernels/cuda/attention_prefill_wgmma.h"
#include "kernels/cuda/attention_prefill_wgmma_ablation.h"
#include "launch/gqa_bench/ablation_overlap.h"
#include "launch/gqa_bench/prefill_bench.h"

namespace gqa::bench {

AblationTable::AblationTable(const std::vector<int64_t>& prompts, bool tma) : prompts_(prompts), tma_(tma) {
  masks_.push_back(0);
  for (unsigned skip : cuda::kPrefillAblations) {
    if (cuda::prefill_ablation_applies(skip, tma)) masks_.push_back(skip);
  }
  notes_.resize(masks_.size());
  ms_.resize(masks_.size());
}

void AblationTable::time_prompt(BenchEnv& env, const ModelConfig& c, const PagedKvCache& cache, int64_t p,
                                const Deadline& deadline) {
  if (failed_) return;
  progress(std::string("prefill attention, ") + (tma_ ? "TMA" : "producer") + " build with parts left out: " +
           tokens_str(p) + " tokens");
  flops_[p] = prefill_attention_flops_per_layer(c, p);
  for (size_t i = 0; i < masks_.size(); ++i) {
    const unsigned skip = masks_[i];
    if (deadline.passed()) {
      notes_[i][p] = {"skipped", "(time", "budget)"};
      continue;
    }
    if (variant_skipped_by_test(skip)) {  // (the same kernel as that build's, not timed)
      notes_[i][p] = {"skipped", "(its test", "failed)"};
      continue;
    }
    try {
      ms_[i][p] = time_prefill_attention(env, c, cache, p, [&](const AttentionArgs& a) {
        cuda::attention_prefill_wgmma_ablated(a, skip, env.stream, tma_);
      });
    } catch (const std::exception& e) {
      notes_[i][p] = {"FAILED", e.what(), ""};
      progress("prefill ablation " + cuda::prefill_ablation_name(skip) + " failed: " + e.what());
      failed_ = true;
      return;
    }
  }
}

void AblationTable::skip_prompt(int64_t p) {
  for (size_t i = 0; i < masks_.size(); ++i) notes_[i][p] = {"skipped", "(time", "budget)"};
}

void AblationTable::report(Report& out) const {
  bool any = false;
  for (size_t i = 0; i < masks_.size(); ++i) any = any || !ms_[i].empty() || !notes_[i].empty();
  if (!any) return;
  if (tma_) {
    out.line("The TMA build (the default in runs 9-11) with the same parts left out (timed after every other prefill "
             "table; first run in run 10): 'no copies' issues no TMA load either; 'full' is the TMA build's kernel "
             "launched directly. Two more rows are variants that still compute the attention (seventeenth session, "
             "last in the table): 'turns passed after the wait' (each consumer warpgroup passes its tensor-core turn "
             "once its GEMM has completed rather than once issued, so the two warpgroups' GEMMs do not share the "
             "tensor cores) and 'softmax under the previous P V' (the overlap build's consumers, each warpgroup's "
             "softmax of a tile under its own P V of the tile before, on the TMA build's tiles: the default build "
             "since run 11).");
  } else {
    out.line("The producer build (the default before the TMA build) with parts of its work left out, a timing aid "
             "whose outputs are not attention (kernels/cuda/attention_prefill_wgmma_ablation.h): no copies (the "
             "producer hands every stage over without copying), no softmax (P = S), no QK (S = 0), no PV, no turns "
             "(the consumer warpgroups issue without taking turns), and one variant that is still the attention: "
             "rotated tiles (each block takes its K/V tiles from tile blockIdx mod n on, so the resident blocks do "
             "not all read the same tile of the one KV head at once); same calls and timing as above. 'of full' is "
             "the time over the full build's; TFLOP/s counts the full attention's FLOPs where both GEMMs still run.");
  }
  std::vector<std::string> header = {"build"};
  for (int64_t p : prompts_) {
    header.insert(header.end(), {tokens_str(p) + " ms", "of full", "TFLOP/s"});
  }
  Table t(header);
  for (size_t i = 0; i < masks_.size(); ++i) {
    std::vector<std::string> row = {cuda::prefill_ablation_name(masks_[i])};
    const bool both_gemms = (masks_[i] & (cuda::kAblateQk | cuda::kAblatePv)) == 0;
    for (int64_t p : prompts_) {
      const auto timed = ms_[i].find(p);
      const auto note = notes_[i].find(p);
      if (timed != ms_[i].end()) {
        const double ms = timed->second;  // (against mask 0's, the full build: masks_[0])
        row.insert(row.end(), {strf("%.2f", ms), strf("%.2f", ms / ms_of(0, p)),
                               both_gemms ? strf("%.1f", flops_.at(p) / (ms * 1e-3) / 1e12) : "-"});
      } else if (note != notes_[i].end()) {
        row.insert(row.end(), note->second.begin(), note->second.end());
      } else {
        row.insert(row.end(), {"-", "-", "-"});
      }
    }
    t.row(row);
  }
  out.table(t);
  report_overlap(out);
}

bool AblationTable::variant_skipped_by_test(unsigned skip) {
  for (cuda::PrefillWgmmaBuild b : cuda::kPrefillWgmmaBuilds) {
    const unsigned variant = cuda::prefill_wgmma_build_variant(b);
    if (variant != 0 && (skip & variant) && wgmma_build_skipped(cuda::prefill_wgmma_build_name(b))) return true;
  }
  return false;
}

double AblationTable::ms_of(unsigned skip, int64_t p) const {
  const auto at = std::find(masks_.begin(), masks_.end(), skip);
  if (at == masks_.end()) return NAN;
  const auto& row = ms_[size_t(at - masks_.begin())];
  const auto it = row.find(p);
  return it == row.end() ? NAN : it->second;
}

void AblationTable::report_overlap(Report& out) const {
  constexpr unsigned kNone = cuda::kAblateCopies | cuda::kAblateSoftmax | cuda::kAblateQk | cuda::kAblatePv;
  std::vector<std::string> said;
  for (int64_t p : prompts_) {
    // (the whole against which the parts are added: the 'no copies' row, copies left out as from
    // the parts; the full kernel's copies would count as overlap where they are only more work)
    const double whole = ms_of(cuda::kAblateCopies, p);
    const AblationOverlap r = ablation_overlap(whole, ms_of(kNone, p),
                                               ms_of(cuda::kAblateCopies | cuda::kAblateSoftmax, p),
                                               ms_of(cuda::kAblateCopies | cuda::kAblateQk | cuda::kAblatePv, p));
    if (!r.ok) continue;
    said.push_back(strf("%s: skeleton %.3f ms, GEMMs %.3f and softmax %.3f over it, %.3f in series against "
                        "%.3f for both together ('no copies'): %.0f%% of the smaller part hidden",
                        tokens_str(p).c_str(), ms_of(kNone, p), r.gemms, r.softmax, r.serial, whole,
                        100.0 * r.hidden));
  }
  if (said.empty()) return;
  std::string line = "Overlap (launch/gqa_bench/ablation_overlap.h; every row here without the copies): ";
  for (size_t i = 0; i < said.size(); ++i) line += (i ? "; " : "") + said[i];
  out.line(line + ".");
}

}  // namespace gqa::bench
