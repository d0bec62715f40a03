// Token sampling on rank 0: greedy, temperature, top-k, top-p, reproducible with a seed.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

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

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;  // scratch, reused across calls
};

int32_t argmax(const float* logits, int64_t n);

}  // namespace gqa
