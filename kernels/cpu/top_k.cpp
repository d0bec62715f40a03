// The reference top-k selection (Ops::top_k_rows): each row's k best (logit, column) pairs in
// CandidateOrder, the NaN flag last. The model's vocabulary-parallel sampling all-gathers these
// rows instead of the logits (src/model/model.cpp, Model::top_k_across_ranks).
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/cpu_kernels.h"

namespace gqa::cpu {

void top_k_row(const float* logits, int64_t n, int64_t k, float* out, std::vector<std::pair<float, int32_t>>& scratch) {
  GQA_CHECK(k >= 1, "top_k_row: k must be >= 1, got " << k);
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
}

}  // namespace gqa::cpu
