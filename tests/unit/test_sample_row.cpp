// cpu::sample_row (kernels/cpu/sampling.cpp), which sorts only the prefix of the candidates its
// rule looks at, against the rule written out with a full sort (the implementation before that
// change): the same token for every (logits, spec, u) drawn here: vocabularies of 5 to 128256,
// flat and peaked logits, ties, top_k 0 / 1 / 50 / 2000 / vocab, top_p 1 / 0.95 / 0.5 / 0.01,
// temperatures 0.3 and 1.5, u near 0, inside and near 1. And sample_candidates on the union of
// slices' top-k lists (vocab-parallel ranks), and sample_slices on slices' best pairs and masses,
// against sample_row on the whole row.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/sampling_full_sort.h"

namespace gqa {
namespace {

using cpu::sample_row_full_sort;

TEST(SampleRow, AnEmptyRowIsAnError) {
  cpu::SampleScratch scratch;
  const float one = 1.0f;
  EXPECT_THROW(cpu::sample_row(&one, 0, SampleSpec{}, 0.0, scratch), Error);  // (greedy returned token 0)
  EXPECT_EQ(cpu::sample_row(&one, 1, SampleSpec{}, 0.0, scratch), 0);
}

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

// More than 1024 candidates at a low temperature with token 0 far below the row's maximum: the
// probabilities are taken from the maximum, not from whatever logit comes first (70 / 0.05 = 1400
// overflows exp, and the draw fell to the row's last candidate). (Mutation testing: the first
// candidate as the maximum passed SameTokenAsTheFullSortRule, whose logits span less.)
TEST(SampleRow, LowTemperatureMaxIsTheRowsMaximum) {
  std::mt19937 rng(2028);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  std::vector<float> logits(5000);
  for (auto& x : logits) x = nd(rng);
  logits[0] = -60.0f;
  logits[4321] = 10.0f;
  cpu::SampleScratch scratch;
  for (double u : {0.0, 0.5, 0.999999}) {
    for (int64_t top_k : {int64_t{0}, int64_t{2000}}) {
      SampleSpec spec;
      spec.temperature = 0.05f;
      spec.top_k = top_k;
      EXPECT_EQ(cpu::sample_row(logits.data(), 5000, spec, u, scratch), 4321) << "u " << u << " top_k " << top_k;
      EXPECT_EQ(sample_row_full_sort(logits, spec, u), 4321) << "u " << u << " top_k " << top_k;
    }
  }
}

// A draw exactly on a boundary of the running mass takes the next candidate: the rule returns the
// first whose running mass exceeds r = u * kept mass, as std::uniform_real_distribution draws from
// [0, mass). Two (four) equal logits: u 0.5 (0.25) puts r on the first boundary.
// (Mutation testing: "r <= acc" passed; no u drawn elsewhere lands on a boundary.)
TEST(SampleRow, DrawOnABoundaryTakesTheNextCandidate) {
  cpu::SampleScratch scratch;
  SampleSpec spec;
  spec.temperature = 1.0f;
  const std::vector<float> two{1.0f, 1.0f}, four{0.0f, 0.0f, 0.0f, 0.0f};
  EXPECT_EQ(cpu::sample_row(two.data(), 2, spec, 0.5, scratch), 1);
  EXPECT_EQ(sample_row_full_sort(two, spec, 0.5), 1);
  EXPECT_EQ(cpu::sample_row(four.data(), 4, spec, 0.25, scratch), 1);
  EXPECT_EQ(cpu::sample_row(four.data(), 4, spec, 0.5, scratch), 2);
  EXPECT_EQ(cpu::sample_row(four.data(), 4, spec, 0.0, scratch), 0);
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

// Ids [b, b + len) of the row as a rank sends them at T > 1: Ops::top_k_rows' row (on the CPU),
// read back as the model reads it.
SliceCandidates slice_of(const std::vector<float>& logits, int64_t b, int64_t len, int64_t per_slice,
                         float temperature) {
  std::vector<float> row(top_k_row_width(per_slice));
  std::vector<std::pair<float, int32_t>> scratch;
  cpu::top_k_row(logits.data() + b, len, per_slice, temperature, row.data(), scratch);
  return slice_of_top_k_row(row.data(), per_slice, b, len);
}

// A row split into slices, each sending its best `per_slice` pairs and its mass (top_k 0 at T > 1):
// sample_slices gives sample_row's token on the whole row whenever it decides, decides always when
// no slice is truncated, and leaves some draws undecided (-1) when the slices send few pairs.
TEST(SampleRow, SlicesWithMassesGiveTheWholeRowsTokenOrDefer) {
  std::mt19937 rng(78);
  cpu::SampleScratch whole, part;
  int decided_truncated = 0, deferred = 0;
  for (int64_t vocab : {7, 1000, 50000}) {
    for (float spread : {0.5f, 4.0f}) {  // flat .. peaked
      std::normal_distribution<float> nd(0.0f, spread);
      std::vector<float> logits(vocab);
      for (auto& x : logits) x = std::round(nd(rng) * 8.0f) / 8.0f;  // ties across slices
      for (int64_t i = 3; i < vocab; i += 97) logits[i] = -INFINITY;  // masked ids
      for (int n_slices : {2, 3, 8}) {
        for (int64_t per_slice : {1, 4, 64, 50000}) {
          const int64_t chunk = (vocab + n_slices - 1) / n_slices;
          for (float temperature : {0.5f, 1.3f}) {
            std::vector<SliceCandidates> slices;
            for (int64_t b = 0; b < vocab; b += chunk) {
              slices.push_back(slice_of(logits, b, std::min(vocab, b + chunk) - b, per_slice, temperature));
            }
            slices.push_back(SliceCandidates{});  // an empty slice (vocab_size < T * chunk): no effect
            const bool complete = per_slice >= chunk;
            for (float top_p : {1.0f, 0.9f, 0.5f, 0.05f}) {
              for (double u : {0.01, 0.5, 0.999}) {
                const SampleSpec spec{temperature, 0, top_p};
                const int32_t got = cpu::sample_slices(spec, u, slices, part);
                const std::string where = "vocab " + std::to_string(vocab) + " slices " + std::to_string(n_slices) +
                                          " per_slice " + std::to_string(per_slice) + " top_p " +
                                          std::to_string(top_p) + " u " + std::to_string(u);
                if (complete) {
                  EXPECT_GE(got, 0) << where;
                }
                if (got < 0) {
                  ++deferred;
                  continue;
                }
                decided_truncated += !complete;
                EXPECT_EQ(got, cpu::sample_row(logits.data(), vocab, spec, u, whole)) << where;
              }
            }
          }
        }
      }
    }
  }
  EXPECT_GT(deferred, 0);
  EXPECT_GT(decided_truncated, 100) << "truncated slices decide most peaked draws";
  // A truncated slice without pairs bounds nothing: undecided, never a guess.
  std::vector<SliceCandidates> odd(2);
  odd[0].pairs = {{1.0f, 0}};
  odd[0].mass = 1.0;
  odd[1].truncated = true;
  EXPECT_EQ(cpu::sample_slices(SampleSpec{1.0f, 0, 0.5f}, 0.1, odd, part), -1);
}

// Random hard rows for sample_slices: tiny vocabularies cut into slices of random width (some
// empty), few candidates per slice, rows of few distinct values (ties), mostly -inf rows, signed
// zeros; every decided draw must be sample_row's token, and no draw over complete slices defers.
TEST(SampleRow, SlicesOnRandomHardRows) {
  std::mt19937 rng(2027);
  cpu::SampleScratch whole, part;
  int decided = 0, deferred = 0;
  const float temperatures[] = {0.3f, 1.0f, 2.0f}, top_ps[] = {1.0f, 0.9f, 0.5f, 0.05f};
  for (int iter = 0; iter < 4000; ++iter) {
    const int64_t vocab = 1 + rng() % 300, per_slice = 1 + rng() % 8;
    const int64_t chunk = 1 + rng() % (vocab / 2 + 4);
    const float temperature = temperatures[rng() % 3], top_p = top_ps[rng() % 4];
    const int kind = static_cast<int>(rng() % 4);
    std::vector<float> logits(vocab);
    for (float& x : logits) {
      const int v = static_cast<int>(rng() % 8);
      x = kind == 0 ? static_cast<float>(v % 3)
          : kind == 1 ? (v < 5 ? -INFINITY : static_cast<float>(v))
          : kind == 2 ? (v < 7 ? -INFINITY : 0.0f)
                      : (v == 0 ? -0.0f : 0.5f * static_cast<float>(v % 5 - 2));
    }
    std::vector<SliceCandidates> slices;
    bool complete = true;
    for (int64_t b = 0; b < vocab + chunk; b += chunk) {  // the last slice may be empty
      const int64_t len = std::max<int64_t>(0, std::min(vocab, b + chunk) - b);
      slices.push_back(slice_of(logits, std::min(b, vocab), len, per_slice, temperature));
      complete = complete && !slices.back().truncated;
    }
    for (double u : {0.0, 0.37, 0.9999999999}) {
      const SampleSpec spec{temperature, 0, top_p};
      const int32_t got = cpu::sample_slices(spec, u, slices, part);
      if (got < 0) {
        ++deferred;
        EXPECT_FALSE(complete) << "iteration " << iter << ": complete slices must decide";
        continue;
      }
      ++decided;
      ASSERT_EQ(got, cpu::sample_row(logits.data(), vocab, spec, u, whole))
          << "iteration " << iter << " vocab " << vocab << " kind " << kind << " u " << u;
    }
  }
  EXPECT_GT(decided, 1000);
  EXPECT_GT(deferred, 100);
}

}  // namespace
}  // namespace gqa
