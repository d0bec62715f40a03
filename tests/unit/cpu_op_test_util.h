// Helpers shared by the CPU op tests: seeded random tensors and an every-element comparison.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "tests/support/expect_error.h"

namespace gqa::test {

inline Tensor random_f32(Shape shape, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  Tensor t = Tensor::host(DType::kF32, std::move(shape));
  std::uniform_real_distribution<float> dist(lo, hi);
  float* p = t.data_as<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  return t;
}

inline Tensor filled_f32(Shape shape, float value) {
  Tensor t = Tensor::host(DType::kF32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = value;
  return t;
}

inline Tensor i32_tensor(const std::vector<int32_t>& values, Shape shape = {}) {
  if (shape.empty()) shape = {static_cast<int64_t>(values.size())};
  Tensor t = Tensor::host(DType::kI32, std::move(shape));
  EXPECT_EQ(t.numel(), static_cast<int64_t>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) t.data_as<int32_t>()[i] = values[i];
  return t;
}

inline std::vector<double> to_double(const Tensor& t) {
  const float* p = t.data_as<float>();
  return std::vector<double>(p, p + t.numel());
}

// Checks EVERY element: |got - want| <= atol + rtol * |want| (NaN never passes). Reports the
// number of bad elements, the worst one and the max abs/rel errors over the whole tensor.
inline void expect_all_close(const Tensor& got, const std::vector<double>& want, double atol, double rtol,
                             const std::string& what) {
  ASSERT_EQ(got.dtype(), DType::kF32) << what;
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << what;
  const float* g = got.data_as<float>();
  int64_t bad = 0, worst = -1;
  double max_abs = 0.0, max_rel = 0.0, worst_excess = 0.0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double err = std::fabs(static_cast<double>(g[i]) - want[i]);
    const double limit = atol + rtol * std::fabs(want[i]);
    if (!(err <= limit)) {
      ++bad;
      const double excess = std::isnan(err) ? INFINITY : err - limit;
      if (worst < 0 || excess > worst_excess) worst = i, worst_excess = excess;
    }
    if (!std::isnan(err)) {
      max_abs = std::max(max_abs, err);
      if (want[i] != 0.0) max_rel = std::max(max_rel, err / std::fabs(want[i]));
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.numel() << " elements out of tolerance; worst at "
                    << worst << ": got " << (worst >= 0 ? g[worst] : 0.0f) << ", want "
                    << (worst >= 0 ? want[worst] : 0.0) << " (max abs err " << max_abs << ", max rel err "
                    << max_rel << ")";
}

// Expects `fn` to throw gqa::Error whose message contains `needle` (e.g. the op's name).

}  // namespace gqa::test
