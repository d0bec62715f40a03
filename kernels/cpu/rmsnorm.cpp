#include <algorithm>
#include <functional>
#include <cmath>

#include "kernels/cpu/cpu_kernels.h"

namespace gqa::cpu {

// x: f32 [n, d]; weight: f32 [d]; out: f32 [n, d] (may alias x).
// Follows Hugging Face LlamaRMSNorm in f32: var = mean(x^2); out = weight * (x * rsqrt(var + eps)).
// The sum of squares is accumulated in double (torch uses a cascade sum, also more accurate than
// a naive f32 loop), then rounded to f32 before the f32 rsqrt and products.
void rmsnorm(const RmsNormArgs& a) {
  constexpr const char* kOp = "rmsnorm";
  detail::expect_kind(a.x, DType::kF32, 2, kOp, "x");
  const int64_t n = a.x.dim(0);
  const int64_t d = a.x.dim(1);
  detail::expect(a.weight, DType::kF32, {d}, kOp, "weight");
  detail::expect(a.out, DType::kF32, {n, d}, kOp, "out");
  GQA_CHECK(d > 0, kOp << ": empty hidden dimension in x " << shape_str(a.x.shape()));

  const float* w = a.weight.data_as<float>();
  for (int64_t t = 0; t < n; ++t) {
    const float* x = a.x.data_as<float>() + t * d;
    float* out = a.out.data_as<float>() + t * d;
    double sum_sq = 0.0;
    for (int64_t i = 0; i < d; ++i) sum_sq += static_cast<double>(x[i]) * x[i];
    const float var = static_cast<float>(sum_sq / static_cast<double>(d));
    const float inv_rms = 1.0f / std::sqrt(var + a.eps);
    for (int64_t i = 0; i < d; ++i) out[i] = w[i] * (x[i] * inv_rms);
  }
}

void add_rmsnorm(const AddRmsNormArgs& a) {
  constexpr const char* kOp = "add_rmsnorm";
  detail::expect_kind(a.x, DType::kF32, 2, kOp, "x");
  detail::expect(a.residual, DType::kF32, a.x.shape(), kOp, "residual");
  Tensor sum = a.x;
  if (a.x_out.defined()) {
    detail::expect(a.x_out, DType::kF32, a.x.shape(), kOp, "x_out");
    GQA_CHECK(!overlaps(a.x_out, a.x) && !overlaps(a.x_out, a.residual) && !overlaps(a.x_out, a.weight) &&
                  !overlaps(a.x_out, a.out),
              kOp << ": x_out " << shape_str(a.x_out.shape()) << " overlaps x, residual, weight or out");
    // x_out = x + residual in one pass (x is left as it was)
    std::transform(a.x.data_as<float>(), a.x.data_as<float>() + a.x.numel(), a.residual.data_as<float>(),
                   a.x_out.data_as<float>(), std::plus<float>());
    sum = a.x_out;
  } else {
    add(a.residual, sum);
  }
  rmsnorm({sum, a.weight, a.out, a.eps});
}

}  // namespace gqa::cpu
