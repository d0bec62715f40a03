// The reference token sampler (kernels/ops.h SampleSpec): the math the runtime's Sampler and
// CpuOps::sample_rows run, and the GPU's sampling kernels reproduce.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/cpu_kernels.h"

namespace gqa::cpu {

int32_t argmax_row(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

int32_t sample_row(const float* logits, int64_t vocab, const SampleSpec& spec, double u, SampleScratch& scratch) {
  for (int64_t i = 0; i < vocab; ++i) {
    GQA_CHECK(!std::isnan(logits[i]), "logits contain NaN at token " << i);
  }
  if (spec.temperature == 0.0f) return argmax_row(logits, vocab);

  // Candidates sorted by logit (descending, ties to the lowest id), cut to top-k.
  auto& cand = scratch.candidates;
  cand.resize(vocab);
  for (int64_t i = 0; i < vocab; ++i) cand[i] = {logits[i], static_cast<int32_t>(i)};
  const int64_t k = spec.top_k > 0 ? std::min(spec.top_k, vocab) : vocab;
  auto by_logit = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  std::partial_sort(cand.begin(), cand.begin() + k, cand.end(), by_logit);
  cand.resize(k);

  // Softmax at the temperature (max-subtracted), then keep the smallest prefix with mass >= top_p.
  const double inv_t = 1.0 / spec.temperature;
  const double max_logit = cand[0].first;
  auto& probs = scratch.probs;
  probs.resize(k);
  double total = 0;
  for (int64_t i = 0; i < k; ++i) total += probs[i] = std::exp((cand[i].first - max_logit) * inv_t);
  int64_t keep = k;
  if (spec.top_p < 1.0f) {
    double mass = 0;
    for (int64_t i = 0; i < k; ++i) {
      mass += probs[i] / total;
      if (mass >= spec.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double kept_total = 0;
  for (int64_t i = 0; i < keep; ++i) kept_total += probs[i];
  const double r = u * kept_total;  // as std::uniform_real_distribution<double>(0, kept_total) maps u
  double acc = 0;
  for (int64_t i = 0; i < keep; ++i) {
    acc += probs[i];
    if (r < acc) return cand[i].second;
  }
  return cand[keep - 1].second;
}

}  // namespace gqa::cpu
