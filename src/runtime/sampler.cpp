#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace gqa {

void validate(const SamplingParams& p) {
  GQA_CHECK(std::isfinite(p.temperature) && p.temperature >= 0, "--temperature must be >= 0, got " << p.temperature);
  GQA_CHECK(p.top_k >= 0, "--top-k must be >= 0, got " << p.top_k);
  GQA_CHECK(p.top_p > 0 && p.top_p <= 1, "--top-p must be in (0, 1], got " << p.top_p);
}

int32_t argmax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) { validate(params); }

int32_t Sampler::sample(const float* logits, int64_t vocab_size) {
  for (int64_t i = 0; i < vocab_size; ++i) {
    GQA_CHECK(!std::isnan(logits[i]), "logits contain NaN at token " << i);
  }
  if (params_.temperature == 0.0f) return argmax(logits, vocab_size);

  // Candidates sorted by logit (descending), cut to top-k.
  candidates_.resize(vocab_size);
  for (int64_t i = 0; i < vocab_size; ++i) candidates_[i] = {logits[i], static_cast<int32_t>(i)};
  const int64_t k = params_.top_k > 0 ? std::min(params_.top_k, vocab_size) : vocab_size;
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  std::partial_sort(candidates_.begin(), candidates_.begin() + k, candidates_.end(), by_logit);
  candidates_.resize(k);

  // Softmax at the temperature (max-subtracted), then keep the smallest prefix with mass >= top_p.
  const double inv_t = 1.0 / params_.temperature;
  const double max_logit = candidates_[0].first;
  std::vector<double> probs(k);
  double total = 0;
  for (int64_t i = 0; i < k; ++i) total += probs[i] = std::exp((candidates_[i].first - max_logit) * inv_t);
  int64_t keep = k;
  if (params_.top_p < 1.0f) {
    double mass = 0;
    for (int64_t i = 0; i < k; ++i) {
      mass += probs[i] / total;
      if (mass >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double kept_total = 0;
  for (int64_t i = 0; i < keep; ++i) kept_total += probs[i];
  const double r = std::uniform_real_distribution<double>(0.0, kept_total)(rng_);
  double acc = 0;
  for (int64_t i = 0; i < keep; ++i) {
    acc += probs[i];
    if (r < acc) return candidates_[i].second;
  }
  return candidates_[keep - 1].second;
}

}  // namespace gqa
