#include <cmath>

#include "kernels/cpu/cpu_kernels.h"

namespace gqa::cpu {

// gate_up: f32 [n, 2f] (row: gate then up); out: f32 [n, f] = silu(gate) * up,
// silu(g) = g * sigmoid(g) = g / (1 + e^-g) (torch's formula; for very negative g, e^-g
// overflows to inf and the result is a clean -0).
void swiglu(const SwigluArgs& a) {
  constexpr const char* kOp = "swiglu";
  detail::expect_kind(a.gate_up, DType::kF32, 2, kOp, "gate_up");
  GQA_CHECK(a.gate_up.dim(1) % 2 == 0, kOp << ": gate_up " << shape_str(a.gate_up.shape()) << " has an odd width");
  const int64_t n = a.gate_up.dim(0), f = a.gate_up.dim(1) / 2;
  detail::expect(a.out, DType::kF32, {n, f}, kOp, "out");
  GQA_CHECK(!overlaps(a.out, a.gate_up), kOp << ": out overlaps gate_up");  // (as cuda swiglu)

  const float* gu = a.gate_up.data_as<float>();
  float* out = a.out.data_as<float>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < f; ++j) {
      const float g = gu[i * 2 * f + j];
      out[i * f + j] = g / (1.0f + std::exp(-g)) * gu[i * 2 * f + f + j];
    }
  }
}

}  // namespace gqa::cpu
