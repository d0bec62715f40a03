#if GQA_HAVE_CBLAS
#include <cblas.h>
#endif

#include <climits>
#include <cstring>

#include "kernels/cpu/cpu_kernels.h"

namespace gqa::cpu {
namespace {

#if !GQA_HAVE_CBLAS
// Without CBLAS (a build machine that lacks OpenBLAS): y[n, m] += x[n, k] w[m, k]^T as row-by-row
// dot products over contiguous memory, eight partial sums each so the compiler can vectorise.
// Slow next to OpenBLAS, but exact enough to stay the reference the GPU tests compare with.
void gemm_xwt_accumulate(int64_t n, int64_t m, int64_t k, const float* x, const float* w, float* y) {
  constexpr int64_t kRowBlock = 4;  // rows of x that share each streamed row of w
  for (int64_t r0 = 0; r0 < n; r0 += kRowBlock) {
    const int64_t r1 = r0 + kRowBlock < n ? r0 + kRowBlock : n;
    for (int64_t j = 0; j < m; ++j) {
      const float* wj = w + j * k;
      for (int64_t r = r0; r < r1; ++r) {
        const float* xr = x + r * k;
        float acc[8] = {};
        int64_t i = 0;
        for (; i + 8 <= k; i += 8) {
          for (int l = 0; l < 8; ++l) acc[l] += xr[i + l] * wj[i + l];
        }
        float sum = 0.0f;
        for (; i < k; ++i) sum += xr[i] * wj[i];
        for (int l = 0; l < 8; ++l) sum += acc[l];
        y[r * m + j] += sum;
      }
    }
  }
}
#endif

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

  const float* x = a.x.data_as<float>();
  const float* w = a.w.data_as<float>();
#if !GQA_HAVE_CBLAS
  gemm_xwt_accumulate(n, m, k, x, w, y);
#else
  const int ni = static_cast<int>(n), mi = static_cast<int>(m), ki = static_cast<int>(k);
  if (n == 1) {  // decode of a single token: y^T = W x
    cblas_sgemv(CblasRowMajor, CblasNoTrans, mi, ki, 1.0f, w, ki, x, 1, 1.0f, y, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ni, mi, ki, 1.0f, x, ki, w, ki, 1.0f, y, mi);
  }
#endif
}

}  // namespace gqa::cpu
