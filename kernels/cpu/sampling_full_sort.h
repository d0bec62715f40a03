// The sampling rule of kernels/cpu/sampling.cpp written out plainly, with every top-k candidate
// sorted and every sum in sorted order (what sample_row did before it sorted only the prefix it
// looks at): the oracle of tests/unit/test_sample_row.cpp and the peer of gqa-sample-bench.
// Header-only; not used by the library itself.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/error.h"
#include "kernels/ops.h"

namespace gqa::cpu {

inline int32_t sample_row_full_sort(const std::vector<float>& logits, const SampleSpec& spec, double u) {
  const int64_t vocab = static_cast<int64_t>(logits.size());
  for (int64_t i = 0; i < vocab; ++i) {
    if (std::isnan(logits[i])) throw NanLogitsError("logits contain NaN (at vocabulary id " + std::to_string(i) + ")");
  }
  std::vector<std::pair<float, int32_t>> cand(vocab);
  for (int64_t i = 0; i < vocab; ++i) cand[i] = {logits[i], static_cast<int32_t>(i)};
  const int64_t k = spec.top_k > 0 ? std::min(spec.top_k, vocab) : vocab;
  std::partial_sort(cand.begin(), cand.begin() + k, cand.end(), CandidateOrder{});
  cand.resize(k);
  std::vector<double> probs(k);
  const double inv_t = 1.0 / spec.temperature, max_logit = cand[0].first;
  double total = 0;
  for (int64_t i = 0; i < k; ++i) total += probs[i] = std::exp((cand[i].first - max_logit) * inv_t);
  int64_t keep = k;
  if (spec.top_p < 1.0f) {
    double mass = 0;
    for (int64_t i = 0; i < k; ++i) {
      mass += probs[i] / total;
      if (mass >= spec.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double kept = 0;
  for (int64_t i = 0; i < keep; ++i) kept += probs[i];
  double acc = 0;
  for (int64_t i = 0; i < keep; ++i) {
    acc += probs[i];
    if (u * kept < acc) return cand[i].second;
  }
  return cand[keep - 1].second;
}

}  // namespace gqa::cpu
