#include "kernels/cpu/cpu_kernels.h"

namespace gqa::cpu {

// x: f32 [any shape]; y: f32 [same shape]; y += x (the residual add).
void add(const Tensor& x, Tensor y) {
  constexpr const char* kOp = "add";
  detail::expect_kind(x, DType::kF32, x.ndim(), kOp, "x");
  detail::expect(y, DType::kF32, x.shape(), kOp, "y");
  GQA_CHECK(x.data() == y.data() || !overlaps(x, y), kOp << ": x and y partly overlap");  // (as cuda add)

  const float* src = x.data_as<float>();
  float* dst = y.data_as<float>();
  const int64_t count = x.numel();
  for (int64_t i = 0; i < count; ++i) dst[i] += src[i];
}

}  // namespace gqa::cpu
