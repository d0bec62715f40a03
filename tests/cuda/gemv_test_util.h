// Helpers shared by the decode-GEMV tests (test_gemv.cpp, test_gemv_mma.cpp): the fp64 reference
// of y = x w^T (+ b), NaN-poisoned device outputs, and random inputs rounded to a dtype.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/cuda/device_memory.h"
#include "tests/cuda/cuda_test_util.h"

namespace gqa::test {

// y[i, j] = sum_e x[i, e] w[j, e] (+ b[j]), in double, rounded to f32 once.
inline std::vector<float> gemm_reference(const std::vector<float>& x, const std::vector<float>& w,
                                         const std::vector<float>* b, int64_t n, int64_t m, int64_t k) {
  std::vector<float> y(n * m);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < m; ++j) {
      double s = b ? (*b)[j] : 0.0;
      const float* xr = &x[i * k];
      const float* wr = &w[j * k];
      for (int64_t e = 0; e < k; ++e) s += static_cast<double>(xr[e]) * wr[e];
      y[i * m + j] = static_cast<float>(s);
    }
  }
  return y;
}

// A device tensor filled with 0xff bytes (NaN in every float dtype).
inline Tensor poisoned(DType dt, Shape shape) {
  Tensor t = cuda::device_alloc(dt, std::move(shape));
  cuda::fill_bytes(t, 0xff);
  return t;
}

// `count` random values rounded to dt (so the reference sees what the kernel sees).
inline std::vector<float> rounded_input(size_t count, uint32_t seed, DType dt) {
  return round_to(random_vec(count, seed), dt);
}

}  // namespace gqa::test
