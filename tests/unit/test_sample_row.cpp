// cpu::sample_row (kernels/cpu/sampling.cpp), which sorts only the prefix of the candidates its
// rule looks at, against the rule written out with a full sort (the implementation before that
// change): the same token for every (logits, spec, u) drawn here: vocabularies of 5 to 128256,
// flat and peaked logits, ties, top_k 0 / 1 / 50 / 2000 / vocab, top_p 1 / 0.95 / 0.5 / 0.01,
// temperatures 0.3 and 1.5, u near 0, inside and near 1. And sample_candidates on the union of
// slices' top-k lists (vocab-parallel ranks) against sample_row on the whole row.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/sampling_full_sort.h"

namespace gqa {
namespace {

using cpu::sample_row_full_sort;

TEST(SampleRow, SameTokenAsTheFullSortRule) {
  std::mt19937 rng(2026);
  cpu::SampleScratch scratch;
  int checked = 0;
  for (int64_t vocab : {5, 1000, 1025, 5000, 32000, 128256}) {
    for (float spread : {0.5f, 3.0f, 12.0f}) {  // flat .. peaked
      std::normal_distribution<float> nd(0.0f, spread);
      std::vector<float> logits(vocab);
      for (auto& x : logits) x = std::round(nd(rng) * 8.0f) / 8.0f;  // coarse values: many ties
      for (int64_t top_k : {int64_t{0}, int64_t{1}, int64_t{50}, int64_t{2000}, vocab}) {
        for (float top_p : {1.0f, 0.95f, 0.5f, 0.01f}) {
          for (float temperature : {0.3f, 1.5f}) {
            for (double u : {1e-9, 0.37, 0.999999}) {
              SampleSpec spec;
              spec.temperature = temperature;
              spec.top_k = top_k;
              spec.top_p = top_p;
              const int32_t want = sample_row_full_sort(logits, spec, u);
              const int32_t got = cpu::sample_row(logits.data(), vocab, spec, u, scratch);
              ASSERT_EQ(got, want) << "vocab " << vocab << " spread " << spread << " top_k " << top_k << " top_p "
                                   << top_p << " T " << temperature << " u " << u;
              ++checked;
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 6 * 3 * 5 * 4 * 2 * 3);
}

// A row split into slices (as vocab-parallel ranks hold it): the union of each slice's top-k
// (logit, id) candidates gives sample_row's token on the whole row.
TEST(SampleRow, CandidatesOfSlicesGiveTheWholeRowsToken) {
  std::mt19937 rng(77);
  cpu::SampleScratch whole, part;
  for (int64_t vocab : {7, 1000, 50000}) {
    std::normal_distribution<float> nd(0.0f, 4.0f);
    std::vector<float> logits(vocab);
    for (auto& x : logits) x = std::round(nd(rng) * 4.0f) / 4.0f;  // ties across slices
    for (int slices : {2, 3, 8}) {
      for (int64_t top_k : {1, 5, 64}) {
        for (double u : {0.01, 0.5, 0.99}) {
          SampleSpec spec;
          spec.temperature = 0.9f;
          spec.top_k = top_k;
          spec.top_p = 0.8f;
          part.candidates.clear();
          const int64_t chunk = (vocab + slices - 1) / slices;
          for (int64_t b = 0; b < vocab; b += chunk) {
            std::vector<std::pair<float, int32_t>> slice;
            for (int64_t i = b; i < std::min(vocab, b + chunk); ++i) slice.push_back({logits[i], static_cast<int32_t>(i)});
            const int64_t k = std::min<int64_t>(top_k, static_cast<int64_t>(slice.size()));
            std::partial_sort(slice.begin(), slice.begin() + k, slice.end(), CandidateOrder{});
            part.candidates.insert(part.candidates.end(), slice.begin(), slice.begin() + k);
          }
          EXPECT_EQ(cpu::sample_candidates(spec, u, part), cpu::sample_row(logits.data(), vocab, spec, u, whole))
              << "vocab " << vocab << " slices " << slices << " top_k " << top_k << " u " << u;
        }
      }
    }
  }
}

}  // namespace
}  // namespace gqa
