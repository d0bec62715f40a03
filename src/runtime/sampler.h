// Token sampling on rank 0: greedy, temperature, top-k, top-p, reproducible with a seed.
// The math is the reference kernels/cpu/sampling.cpp; the Sampler owns the random stream, so the
// same seed gives the same tokens whether the row is sampled here (sample) or by the backend
// (Ops::sample_rows with next_uniform's draws).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ops.h"

namespace gqa {

struct SamplingParams {
  float temperature = 0.0f;  // 0 = greedy (argmax; ties go to the lowest id)
  int64_t top_k = 0;         // 0 = all tokens
  float top_p = 1.0f;        // nucleus mass in (0, 1]
  uint64_t seed = 0;
};

// Throws gqa::Error naming the flag for out-of-range parameters.
void validate(const SamplingParams& p);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  int32_t sample(const float* logits, int64_t vocab_size);
  // The same rule over candidate (logit, id) pairs holding every token it can pick (all ids, or a
  // superset of the top_k: cpu::sample_candidates), with the same draw from the stream: the token
  // sample() would give on the whole row. Not for greedy.
  int32_t sample_candidates(const std::vector<std::pair<float, int32_t>>& candidates);
  // The rule with top_k 0 over vocabulary slices' candidates and masses (cpu::sample_slices),
  // with a new draw from the stream: sample()'s token on the whole row, or -1 when the candidates
  // cannot decide it; then sample_again draws from the whole row with that same uniform.
  int32_t sample_slices(const std::vector<SliceCandidates>& slices);
  int32_t sample_again(const float* logits, int64_t vocab_size);
  // The uniform the next sample() would use (0 when greedy, which draws none); advances the stream.
  double next_uniform();
  SampleSpec spec() const { return {params_.temperature, params_.top_k, params_.top_p}; }

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  cpu::SampleScratch scratch_;  // reused across calls
  double last_u_ = 0;            // sample_slices' draw
};

inline int32_t argmax(const float* logits, int64_t n) { return cpu::argmax_row(logits, n); }

}  // namespace gqa
