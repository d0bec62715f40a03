#include <cblas.h>

#include <climits>
#include <cstring>

#include "kernels/cpu/cpu_kernels.h"

namespace gqa::cpu {
namespace {

bool overlaps(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) return false;
  const char* a0 = static_cast<const char*>(a.data());
  const char* b0 = static_cast<const char*>(b.data());
  return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

}  // namespace

// x: f32 [n, k]; w: f32 [m, k] (torch.nn.Linear layout); bias: f32 [m] or undefined;
// y: f32 [n, m] = x w^T (+ bias). y must not overlap an input (BLAS reads them while writing).
void matmul(const MatmulArgs& a) {
  constexpr const char* kOp = "matmul";
  detail::expect_kind(a.x, DType::kF32, 2, kOp, "x");
  detail::expect_kind(a.w, DType::kF32, 2, kOp, "w");
  const int64_t n = a.x.dim(0);
  const int64_t k = a.x.dim(1);
  const int64_t m = a.w.dim(0);
  GQA_CHECK(a.w.dim(1) == k, kOp << ": x " << shape_str(a.x.shape()) << " and w " << shape_str(a.w.shape())
                                 << " disagree on the inner dimension");
  detail::expect(a.y, DType::kF32, {n, m}, kOp, "y");
  if (a.bias.defined()) detail::expect(a.bias, DType::kF32, {m}, kOp, "bias");
  GQA_CHECK(!overlaps(a.y, a.x) && !overlaps(a.y, a.w) && !overlaps(a.y, a.bias),
            kOp << ": output y " << shape_str(a.y.shape()) << " overlaps an input");
  GQA_CHECK(n <= INT_MAX && m <= INT_MAX && k <= INT_MAX, kOp << ": dimensions exceed the BLAS int range: x "
                                                              << shape_str(a.x.shape()) << ", w "
                                                              << shape_str(a.w.shape()));
  if (n == 0 || m == 0) return;

  // Preload y with the bias (or zeros) and let BLAS accumulate onto it with beta = 1: this also
  // keeps stale NaNs in y from leaking through BLAS versions whose beta = 0 path scales y by 0.
  float* y = a.y.data_as<float>();
  if (a.bias.defined()) {
    for (int64_t r = 0; r < n; ++r) {
      std::memcpy(y + r * m, a.bias.data(), static_cast<size_t>(m) * sizeof(float));
    }
  } else {
    std::memset(y, 0, a.y.nbytes());
  }
  if (k == 0) return;

  const int ni = static_cast<int>(n), mi = static_cast<int>(m), ki = static_cast<int>(k);
  const float* x = a.x.data_as<float>();
  const float* w = a.w.data_as<float>();
  if (n == 1) {  // decode of a single token: y^T = W x
    cblas_sgemv(CblasRowMajor, CblasNoTrans, mi, ki, 1.0f, w, ki, x, 1, 1.0f, y, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ni, mi, ki, 1.0f, x, ki, w, ki, 1.0f, y, mi);
  }
}

}  // namespace gqa::cpu
