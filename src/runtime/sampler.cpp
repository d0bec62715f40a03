#include "runtime/sampler.h"

#include <cmath>

#include "core/error.h"

namespace gqa {

void validate(const SamplingParams& p) {
  GQA_CHECK(std::isfinite(p.temperature) && p.temperature >= 0,
            "--temperature must be a finite number >= 0, got " << p.temperature);
  GQA_CHECK(p.top_k >= 0, "--top-k must be >= 0, got " << p.top_k);
  GQA_CHECK(p.top_p > 0 && p.top_p <= 1, "--top-p must be in (0, 1], got " << p.top_p);
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) { validate(params); }

double Sampler::next_uniform() {
  if (params_.temperature == 0.0f) return 0.0;
  return std::generate_canonical<double, 53>(rng_);
}

int32_t Sampler::sample(const float* logits, int64_t vocab_size) {
  return cpu::sample_row(logits, vocab_size, spec(), next_uniform(), scratch_);
}

int32_t Sampler::sample_candidates(const std::vector<std::pair<float, int32_t>>& candidates) {
  scratch_.candidates = candidates;
  return cpu::sample_candidates(spec(), next_uniform(), scratch_);
}

int32_t Sampler::sample_slices(const std::vector<SliceCandidates>& slices) {
  last_u_ = next_uniform();
  return cpu::sample_slices(spec(), last_u_, slices, scratch_);
}

int32_t Sampler::sample_again(const float* logits, int64_t vocab_size) {
  return cpu::sample_row(logits, vocab_size, spec(), last_u_, scratch_);
}

}  // namespace gqa
