// The reference token sampler (kernels/ops.h SampleSpec): the math the runtime's Sampler and
// CpuOps::sample_rows run, and the GPU's sampling kernels reproduce.
//
// The rule: candidates = the top-k logits (all when top_k is 0) in descending order, ties to the
// lowest id; p_i = exp((l_i - max) / temperature); keep the smallest prefix whose mass reaches
// top_p of the total; draw r = u * (kept mass) and return the first candidate whose running mass
// exceeds r. Sorting every candidate is what made this cost ~12 ms per token on a 128K vocabulary
// (top_p without top_k), so a large candidate set is sorted only as far as the rule looks: the
// set is selected (nth_element) and its total summed once, then a sorted prefix of 1024, 4096, ...
// candidates is extended until both the kept prefix and the draw fall inside it; the answer is
// the full sort's (the prefix of a partial sort is the sorted order); only the total's summation
// order differs (set order instead of sorted order, when more than 1024 candidates).
#include <algorithm>
#include <cmath>

#include "kernels/cpu/cpu_kernels.h"

namespace gqa::cpu {
namespace {

using Candidate = std::pair<float, int32_t>;

constexpr CandidateOrder by_logit{};  // (a function object, so the sorting algorithms inline it)

constexpr int64_t kSortedPrefix = 1024;  // candidates sorted at first (and all of a top-k up to this)

// The drawn index among the first `known` candidates in descending logit order, whose
// probabilities (max-subtracted, at the temperature) are probs, of a row whose mass is `total`:
// the smallest prefix whose mass reaches top_p of the total (top_p < 1), then the first candidate
// whose running mass exceeds u * (kept mass). `complete`: the candidates are all the rule may
// pick, so a cut or a draw not reached within them rounds to the last one kept; otherwise -1
// (they cannot decide: the caller knows more candidates, or none).
int64_t draw_index(const std::vector<double>& probs, int64_t known, bool complete, double total, float top_p,
                   double u) {
  int64_t keep = -1;  // the nucleus' length; -1: every id
  if (top_p < 1.0f) {
    double mass = 0;
    for (int64_t i = 0; i < known && keep < 0; ++i) {
      mass += probs[i] / total;
      if (mass >= top_p) keep = i + 1;
    }
    if (keep < 0 && !complete) return -1;  // the nucleus reaches past the candidates
  }
  const bool bounded = keep >= 0 || complete;  // the kept mass lies within the candidates
  const int64_t seen = keep >= 0 ? keep : known;
  double kept_total = 0;
  if (bounded) {
    for (int64_t i = 0; i < seen; ++i) kept_total += probs[i];
  } else {
    kept_total = total;
  }
  const double r = u * kept_total;  // as std::uniform_real_distribution<double>(0, kept_total) maps u
  double acc = 0;
  for (int64_t i = 0; i < seen; ++i) {
    acc += probs[i];
    if (r < acc) return i;
  }
  return bounded ? seen - 1 : -1;  // rounding at the end of the kept mass, or the draw lands past them
}

}  // namespace

int32_t argmax_row(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

int32_t sample_row(const float* logits, int64_t vocab, const SampleSpec& spec, double u, SampleScratch& scratch) {
  GQA_CHECK(vocab > 0, "sample_row: an empty row (vocabulary of " << vocab << ")");
  for (int64_t i = 0; i < vocab; ++i) {
    if (std::isnan(logits[i])) throw NanLogitsError("logits contain NaN (at vocabulary id " + std::to_string(i) + ")");
  }
  if (spec.temperature == 0.0f) return argmax_row(logits, vocab);
  auto& cand = scratch.candidates;
  cand.resize(vocab);
  for (int64_t i = 0; i < vocab; ++i) cand[i] = {logits[i], static_cast<int32_t>(i)};
  return sample_candidates(spec, u, scratch);
}

int32_t sample_candidates(const SampleSpec& spec, double u, SampleScratch& scratch) {
  auto& cand = scratch.candidates;
  const int64_t vocab = static_cast<int64_t>(cand.size());
  GQA_CHECK(vocab > 0 && spec.temperature > 0.0f, "sample_candidates: needs candidates and a temperature > 0");
  // The top-k candidates (unordered), their largest logit and their total mass at the temperature.
  const int64_t k = spec.top_k > 0 ? std::min(spec.top_k, vocab) : vocab;
  const bool small = k <= kSortedPrefix;
  if (small) {
    std::partial_sort(cand.begin(), cand.begin() + k, cand.end(), by_logit);  // mostly one compare per logit
  } else if (k < vocab) {
    std::nth_element(cand.begin(), cand.begin() + (k - 1), cand.end(), by_logit);
  }
  cand.resize(k);
  const double inv_t = 1.0 / spec.temperature;
  const double max_logit = small ? cand[0].first : std::min_element(cand.begin(), cand.end(), by_logit)->first;
  double total = 0;
  if (!small) {
    for (const Candidate& c : cand) total += std::exp((c.first - max_logit) * inv_t);
  }

  auto& probs = scratch.probs;
  for (int64_t sorted = std::min(k, kSortedPrefix);; sorted = std::min(k, 4 * sorted)) {
    if (!small) std::partial_sort(cand.begin(), cand.begin() + sorted, cand.end(), by_logit);
    probs.resize(sorted);
    double prefix_total = 0;
    for (int64_t i = 0; i < sorted; ++i) prefix_total += probs[i] = std::exp((cand[i].first - max_logit) * inv_t);
    if (small) total = prefix_total;  // every candidate, summed in sorted order
    // Undecided within the sorted prefix (the cut or the draw lies past it): sort further.
    const int64_t i = draw_index(probs, sorted, sorted == k, total, spec.top_p, u);
    if (i >= 0) return cand[i].second;
  }
}

int32_t sample_slices(const SampleSpec& spec, double u, const std::vector<SliceCandidates>& slices,
                      SampleScratch& scratch) {
  GQA_CHECK(spec.temperature > 0.0f && spec.top_k == 0, "sample_slices: needs a temperature > 0 and top_k 0");
  auto& cand = scratch.candidates;
  cand.clear();
  bool complete = true;
  for (const SliceCandidates& s : slices) {
    cand.insert(cand.end(), s.pairs.begin(), s.pairs.end());
    complete = complete && !s.truncated;
  }
  GQA_CHECK(!cand.empty(), "sample_slices: no candidates");
  std::sort(cand.begin(), cand.end(), by_logit);
  // The sorted union is the whole row's order up to the earliest last pair of a truncated slice
  // (an id that slice left out comes after its last pair, so after everything before it).
  int64_t known = static_cast<int64_t>(cand.size());
  for (const SliceCandidates& s : slices) {
    if (s.truncated && s.pairs.empty()) return -1;  // ids with unknown logits and nothing to bound them
    if (!s.truncated) continue;
    const auto last = std::lower_bound(cand.begin(), cand.end(), s.pairs.back(), by_logit);
    known = std::min<int64_t>(known, (last - cand.begin()) + 1);
  }
  const double inv_t = 1.0 / spec.temperature;
  const double max_logit = cand[0].first;
  double total = 0;  // every id's mass: each slice's, rescaled from its own largest logit
  for (const SliceCandidates& s : slices) {
    if (!s.pairs.empty()) total += std::exp((s.pairs[0].first - max_logit) * inv_t) * s.mass;
  }
  auto& probs = scratch.probs;
  probs.resize(known);
  for (int64_t i = 0; i < known; ++i) probs[i] = std::exp((cand[i].first - max_logit) * inv_t);

  const int64_t i = draw_index(probs, known, complete, total, spec.top_p, u);
  return i >= 0 ? cand[i].second : -1;
}

}  // namespace gqa::cpu
