// CpuOps::top_k_rows (kernels/cpu/top_k.cpp), the reference the GPU's top_k is tested against,
// against the rule written out with a stable full sort of the columns: for every row the k best
// (logit, column) pairs, larger logit first and ties to the lower column; padding (-inf, -1) past
// the row's width; a NaN row flagged with no candidates; -inf logits are candidates like any other;
// the row's mass at a temperature (hi + lo floats) equal to a long-double sum over the row.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/cpu_ops.h"

namespace gqa {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// The pairs and flag of each row (the mass is checked apart).
std::vector<float> stable_sort_rule(const std::vector<float>& logits, int64_t m, int64_t n, int64_t k) {
  std::vector<float> out;
  for (int64_t r = 0; r < m; ++r) {
    const float* row = logits.data() + r * n;
    const bool nan = std::any_of(row, row + n, [](float x) { return std::isnan(x); });
    std::vector<int32_t> cols(n);
    std::iota(cols.begin(), cols.end(), 0);
    std::stable_sort(cols.begin(), cols.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
    for (int64_t c = 0; c < k; ++c) {
      const bool have = !nan && c < n;
      out.push_back(have ? row[cols[c]] : -kInf);
      out.push_back(have ? static_cast<float>(cols[c]) : -1.0f);
    }
    out.push_back(nan ? 1.0f : 0.0f);
  }
  return out;
}

long double mass_of(const float* row, int64_t n, float temperature) {
  const float mx = *std::max_element(row, row + n);
  if (std::any_of(row, row + n, [](float x) { return std::isnan(x); }) || mx == -kInf) return 0;
  long double sum = 0;
  for (int64_t j = n - 1; j >= 0; --j) sum += std::exp((static_cast<long double>(row[j]) - mx) / temperature);
  return sum;
}

TEST(TopKRows, MatchesTheStableSortRule) {
  cpu::CpuOps ops;
  std::mt19937 rng(11);
  int rows_checked = 0;
  for (int64_t n : {1, 3, 50, 1000, 16032}) {
    for (int64_t k : {1, 2, 7, 50, 1024}) {
      const int64_t m = 5;
      std::normal_distribution<float> nd(0.0f, 3.0f);
      std::vector<float> logits(m * n);
      for (auto& x : logits) x = std::round(nd(rng) * 4.0f) / 4.0f;  // coarse: many ties
      logits[n - 1] = 100.0f;                                       // row 0: the best is the last column
      for (int64_t j = 0; j < n; ++j) logits[2 * n + j] = -kInf;    // row 2: all -inf
      logits[3 * n + n / 2] = std::numeric_limits<float>::quiet_NaN();  // row 3: a NaN
      if (n > 2) logits[4 * n + 1] = logits[4 * n + 2] = 50.0f;     // row 4: a tie at the top
      Tensor t = Tensor::host(DType::kF32, {m, n});
      std::copy(logits.begin(), logits.end(), t.data_as<float>());
      const float temperature = k % 2 == 0 ? 0.7f : 0.0f;
      const std::vector<float> got = ops.top_k_rows(t, k, temperature);
      const std::vector<float> want = stable_sort_rule(logits, m, n, k);
      const int64_t w = top_k_row_width(k);
      ASSERT_EQ(got.size(), static_cast<size_t>(m * w));
      for (int64_t r = 0; r < m; ++r) {
        for (int64_t i = 0; i < 2 * k + 1; ++i) {
          ASSERT_EQ(got[r * w + i], want[r * (2 * k + 1) + i]) << "n " << n << " k " << k << " row " << r << " entry " << i;
        }
        const double mass = static_cast<double>(got[r * w + 2 * k + 1]) + got[r * w + 2 * k + 2];
        if (temperature == 0.0f) {
          EXPECT_EQ(mass, 0.0);
        } else {
          const long double ref = mass_of(logits.data() + r * n, n, temperature);
          const double tol = (1e-14 + 2e-16 * static_cast<double>(n)) * static_cast<double>(ref);  // f64 rounding, n terms
          EXPECT_NEAR(mass, static_cast<double>(ref), tol) << "n " << n << " row " << r;
          if (r == 0) {
            EXPECT_GE(mass, 1.0) << "the largest logit alone has mass 1";
          }
        }
      }
      rows_checked += m;
      EXPECT_EQ(got[1], static_cast<float>(n - 1));  // row 0's best column
      EXPECT_EQ(got[3 * w + 2 * k], 1.0f) << "the NaN row is flagged";
      EXPECT_EQ(got[3 * w + 1], -1.0f) << "and has no candidates";
      EXPECT_EQ(got[2 * w + 1], 0.0f) << "all -inf: column 0 first";
      if (n > 2) {
        EXPECT_EQ(got[4 * w + 1], 1.0f);
        if (k > 1) {
          EXPECT_EQ(got[4 * w + 3], 2.0f) << "ties go to the lower column";
        }
      }
    }
  }
  EXPECT_EQ(rows_checked, 125);
}

TEST(TopKRows, RefusesBadArguments) {
  cpu::CpuOps ops;
  Tensor t = Tensor::host(DType::kF32, {2, 4});
  EXPECT_THROW(ops.top_k_rows(t, 0, 0.0f), Error);
  EXPECT_THROW(ops.top_k_rows(t, 1, -1.0f), Error);
  EXPECT_THROW(ops.top_k_rows(Tensor::host(DType::kF32, {8}), 1, 0.0f), Error);
  EXPECT_EQ(ops.top_k_rows(Tensor::host(DType::kF32, {0, 4}), 3, 1.0f).size(), 0u);
}

}  // namespace
}  // namespace gqa
