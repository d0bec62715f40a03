// The reference top-k selection (Ops::top_k_rows): each row's k best (logit, column) pairs in
// CandidateOrder, the NaN flag, the row's mass at a temperature. The model's vocabulary-parallel
// sampling all-gathers these rows instead of the logits (src/model/model.cpp,
// Model::top_k_across_ranks).
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/cpu_kernels.h"

namespace gqa::cpu {

void top_k_row(const float* logits, int64_t n, int64_t k, float temperature, float* out,
               std::vector<std::pair<float, int32_t>>& scratch) {
  GQA_CHECK(k >= 1, "top_k_row: k must be >= 1, got " << k);
  GQA_CHECK(std::isfinite(temperature) && temperature >= 0, "top_k_row: temperature must be >= 0, got " << temperature);
  bool nan = false;
  scratch.clear();
  for (int64_t j = 0; j < n; ++j) {
    nan = nan || std::isnan(logits[j]);
    scratch.push_back({logits[j], static_cast<int32_t>(j)});
  }
  const int64_t kk = nan ? 0 : std::min(k, n);  // a NaN row has no candidates, only its flag
  std::partial_sort(scratch.begin(), scratch.begin() + kk, scratch.end(), CandidateOrder{});
  for (int64_t c = 0; c < k; ++c) {
    out[2 * c] = c < kk ? scratch[c].first : -std::numeric_limits<float>::infinity();
    out[2 * c + 1] = c < kk ? static_cast<float>(scratch[c].second) : -1.0f;
  }
  out[2 * k] = nan ? 1.0f : 0.0f;
  double mass = 0;
  if (temperature > 0 && kk > 0 && scratch[0].first > -std::numeric_limits<float>::infinity()) {
    const double inv_t = 1.0 / temperature, max_logit = scratch[0].first;
    for (int64_t j = 0; j < n; ++j) mass += std::exp((logits[j] - max_logit) * inv_t);  // in column order
  }
  out[2 * k + 1] = static_cast<float>(mass);
  out[2 * k + 2] = static_cast<float>(mass - static_cast<double>(out[2 * k + 1]));
}

void top_k_rows(const float* logits, int64_t m, int64_t n, int64_t k, float temperature, float* out) {
  const int64_t width = top_k_row_width(k);
  std::vector<std::pair<float, int32_t>> scratch;
  for (int64_t r = 0; r < m; ++r) top_k_row(logits + r * n, n, k, temperature, out + r * width, scratch);
}

}  // namespace gqa::cpu
