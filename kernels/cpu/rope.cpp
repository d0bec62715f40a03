#include <cmath>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

namespace gqa::cpu {

// x: f32 [n, heads, hd], rotated in place; positions: i32 [n]; inv_freq: f32 [hd/2].
// Hugging Face rotate_half convention, computed the way transformers does in f32 so the two
// agree to ~1e-6: angle = float(pos) * inv_freq[i] rounded to f32, cos/sin in f32, both scaled
// by attention_scaling, then out_i = x_i c - x_{i+hd/2} s, out_{i+hd/2} = x_{i+hd/2} c + x_i s.
void rope(const RopeArgs& a) {
  constexpr const char* kOp = "rope";
  detail::expect_kind(a.x, DType::kF32, 3, kOp, "x");
  const int64_t n = a.x.dim(0);
  const int64_t heads = a.x.dim(1);
  const int64_t hd = a.x.dim(2);
  GQA_CHECK(hd % 2 == 0, kOp << ": head_dim must be even, x is " << shape_str(a.x.shape()));
  const int64_t half = hd / 2;
  detail::expect(a.positions, DType::kI32, {n}, kOp, "positions");
  detail::expect(a.inv_freq, DType::kF32, {half}, kOp, "inv_freq");

  const int32_t* positions = a.positions.data_as<int32_t>();
  const float* inv_freq = a.inv_freq.data_as<float>();
  std::vector<float> cos_v(static_cast<size_t>(half)), sin_v(static_cast<size_t>(half));
  for (int64_t t = 0; t < n; ++t) {
    GQA_CHECK(positions[t] >= 0, kOp << ": negative position " << positions[t] << " at token " << t);
    const float pos = static_cast<float>(positions[t]);
    for (int64_t i = 0; i < half; ++i) {
      const float angle = pos * inv_freq[i];
      cos_v[i] = std::cos(angle) * a.attention_scaling;
      sin_v[i] = std::sin(angle) * a.attention_scaling;
    }
    for (int64_t h = 0; h < heads; ++h) {
      float* v = a.x.data_as<float>() + (t * heads + h) * hd;
      for (int64_t i = 0; i < half; ++i) {
        const float x1 = v[i];
        const float x2 = v[i + half];
        v[i] = x1 * cos_v[i] - x2 * sin_v[i];
        v[i + half] = x2 * cos_v[i] + x1 * sin_v[i];
      }
    }
  }
}

}  // namespace gqa::cpu
