#include "model/rope.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace gqa {
namespace {

constexpr double kPi = 3.14159265358979323846;

// base^(2i/dim): torch computes base ** (float32 exponent) in float32.
std::vector<float> pos_freqs(double base, int64_t dim) {
  std::vector<float> f(dim / 2);
  for (int64_t i = 0; i < dim / 2; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    f[i] = static_cast<float>(std::pow(base, static_cast<double>(exponent)));
  }
  return f;
}

std::vector<float> base_inv_freq(double base, int64_t dim) {
  std::vector<float> f = pos_freqs(base, dim);
  for (float& x : f) x = 1.0f / x;
  return f;
}

std::vector<float> llama3_inv_freq(const ModelConfig& c, int64_t dim) {
  const RopeScaling& s = c.rope_scaling;
  std::vector<float> f = base_inv_freq(c.rope_theta, dim);
  const double old_len = static_cast<double>(s.original_max_position_embeddings > 0 ? s.original_max_position_embeddings
                                                                                   : c.max_position_embeddings);
  const double low_wavelen = old_len / s.low_freq_factor;
  const double high_wavelen = old_len / s.high_freq_factor;
  for (float& x : f) {
    const double wavelen = 2 * kPi / x;
    if (wavelen > low_wavelen) {
      x = static_cast<float>(x / s.factor);
    } else if (wavelen >= high_wavelen) {  // medium band: interpolate between scaled and not
      const double smooth = (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      x = static_cast<float>((1 - smooth) * x / s.factor + smooth * x);
    }
  }
  return f;
}

double yarn_mscale(double scale, double mscale) {
  return scale <= 1 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

RopeFrequencies yarn_frequencies(const ModelConfig& c, int64_t dim) {
  const RopeScaling& s = c.rope_scaling;
  const double base = c.rope_theta;
  const double factor = s.factor;
  const double orig = static_cast<double>(s.original_max_position_embeddings > 0 ? s.original_max_position_embeddings
                                                                                : c.max_position_embeddings);
  RopeFrequencies out;
  if (s.attention_factor > 0) {
    out.attention_scaling = static_cast<float>(s.attention_factor);
  } else if (s.mscale != 0 && s.mscale_all_dim != 0) {
    out.attention_scaling = static_cast<float>(yarn_mscale(factor, s.mscale) / yarn_mscale(factor, s.mscale_all_dim));
  } else {
    out.attention_scaling = static_cast<float>(yarn_mscale(factor, 1.0));
  }
  // Dimension at which a frequency makes num_rotations turns over the original context.
  auto correction_dim = [&](double num_rotations) {
    return (dim * std::log(orig / (num_rotations * 2 * kPi))) / (2 * std::log(base));
  };
  double low = correction_dim(s.beta_fast);
  double high = correction_dim(s.beta_slow);
  if (s.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;
  const std::vector<float> pos = pos_freqs(base, dim);
  out.inv_freq.resize(dim / 2);
  for (int64_t i = 0; i < dim / 2; ++i) {
    const float ramp = std::clamp(static_cast<float>((static_cast<float>(i) - low) / (high - low)), 0.0f, 1.0f);
    const float extrapolation_factor = 1.0f - ramp;
    const float extrapolation = 1.0f / pos[i];
    const float interpolation = 1.0f / (static_cast<float>(factor) * pos[i]);
    out.inv_freq[i] = interpolation * (1.0f - extrapolation_factor) + extrapolation * extrapolation_factor;
  }
  return out;
}

}  // namespace

RopeFrequencies rope_frequencies(const ModelConfig& c, int64_t max_position) {
  const int64_t dim = c.head_dim;
  GQA_CHECK(dim > 0 && dim % 2 == 0, "rotary embedding needs an even head_dim, got " << dim);
  const RopeScaling& s = c.rope_scaling;
  RopeFrequencies out;
  switch (s.type) {
    case RopeType::kDefault:
      out.inv_freq = base_inv_freq(c.rope_theta, dim);
      break;
    case RopeType::kLinear:
      out.inv_freq = base_inv_freq(c.rope_theta, dim);
      for (float& x : out.inv_freq) x = static_cast<float>(x / s.factor);
      break;
    case RopeType::kDynamic: {
      const double max_pos = static_cast<double>(c.max_position_embeddings);
      const double seq_len = std::max(static_cast<double>(max_position + 1), max_pos);
      const double d = static_cast<double>(dim);
      const double base = c.rope_theta * std::pow(s.factor * seq_len / max_pos - (s.factor - 1), d / (d - 2));
      out.inv_freq = base_inv_freq(base, dim);
      break;
    }
    case RopeType::kYarn:
      out = yarn_frequencies(c, dim);
      break;
    case RopeType::kLlama3:
      out.inv_freq = llama3_inv_freq(c, dim);
      break;
  }
  return out;
}

}  // namespace gqa
