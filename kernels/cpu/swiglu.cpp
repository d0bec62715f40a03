#include <cmath>

#include "kernels/cpu/cpu_kernels.h"

namespace gqa::cpu {

// gate, up: f32 [n, f]; out: f32 [n, f] = silu(gate) * up, silu(g) = g * sigmoid(g) = g / (1 + e^-g)
// (torch's formula; for very negative g, e^-g overflows to inf and the result is a clean -0).
// out may alias gate or up: each element is read before it is written.
void swiglu(const SwigluArgs& a) {
  constexpr const char* kOp = "swiglu";
  detail::expect_kind(a.gate, DType::kF32, 2, kOp, "gate");
  detail::expect(a.up, DType::kF32, a.gate.shape(), kOp, "up");
  detail::expect(a.out, DType::kF32, a.gate.shape(), kOp, "out");

  const float* gate = a.gate.data_as<float>();
  const float* up = a.up.data_as<float>();
  float* out = a.out.data_as<float>();
  const int64_t count = a.gate.numel();
  for (int64_t i = 0; i < count; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

}  // namespace gqa::cpu
