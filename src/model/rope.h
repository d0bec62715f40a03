// Rotary-embedding frequencies for every scaling type transformers implements for Llama-family
// models (default, linear, dynamic NTK, YaRN, Llama 3.1), computed as transformers 5.x does.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace gqa {

struct RopeFrequencies {
  std::vector<float> inv_freq;     // [head_dim / 2]
  float attention_scaling = 1.0f;  // multiplies cos and sin (YaRN), 1 otherwise
};

// Frequencies for a forward pass whose largest position is max_position (0-based).
// Only `dynamic` depends on it: transformers recomputes inv_freq from seq_len = max_position + 1
// whenever that exceeds max_position_embeddings, and uses the unscaled table otherwise.
RopeFrequencies rope_frequencies(const ModelConfig& config, int64_t max_position);

}  // namespace gqa
