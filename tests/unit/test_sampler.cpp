// Sampling: greedy ties, reproducibility with a seed, top-k and top-p restricting the support,
// temperature sharpening, and parameter validation.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "runtime/sampler.h"

namespace gqa {
namespace {

TEST(Sampler, GreedyPicksArgmaxLowestOnTies) {
  Sampler s({0.0f, 0, 1.0f, 1});
  const std::vector<float> l{0.5f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(s.sample(l.data(), 4), 1);
}

TEST(Sampler, SameSeedSameTokens) {
  const std::vector<float> l{1.0f, 0.9f, 0.8f, 0.7f, 0.1f};
  Sampler a({1.0f, 0, 1.0f, 42}), b({1.0f, 0, 1.0f, 42});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(a.sample(l.data(), 5), b.sample(l.data(), 5));
}

// (mutation testing: a Sampler that ignored its seed passed SameSeedSameTokens)
TEST(Sampler, OtherSeedsOtherTokens) {
  std::vector<float> l(64);
  for (size_t i = 0; i < l.size(); ++i) l[i] = 0.01f * static_cast<float>(i);  // nearly uniform
  std::vector<int32_t> runs[3];
  for (uint64_t seed : {1, 2, 3}) {
    Sampler s({1.0f, 0, 1.0f, seed});
    for (int i = 0; i < 50; ++i) runs[seed - 1].push_back(s.sample(l.data(), 64));
  }
  EXPECT_NE(runs[0], runs[1]);
  EXPECT_NE(runs[1], runs[2]);
  EXPECT_NE(runs[0], runs[2]);
}

TEST(Sampler, TopKRestrictsSupport) {
  const std::vector<float> l{3.0f, 2.9f, 2.8f, 0.0f, 2.95f};
  Sampler s({1.0f, 2, 1.0f, 7});
  std::set<int32_t> seen;
  for (int i = 0; i < 400; ++i) seen.insert(s.sample(l.data(), 5));
  EXPECT_EQ(seen, (std::set<int32_t>{0, 4}));
}

TEST(Sampler, TopPKeepsSmallestPrefixWithEnoughMass) {
  // probabilities ~ 0.5, 0.3, 0.2 (log-space logits); top_p 0.7 keeps the first two.
  const std::vector<float> l{std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  Sampler s({1.0f, 0, 0.7f, 3});
  std::map<int32_t, int> count;
  for (int i = 0; i < 2000; ++i) ++count[s.sample(l.data(), 3)];
  EXPECT_EQ(count.count(2), 0u);
  EXPECT_NEAR(count[0] / 2000.0, 0.5 / 0.8, 0.05);
}

// top_p reached exactly (four equal probabilities, top_p 0.5): the prefix that reaches the mass is
// kept and no more, as transformers' TopPLogitsWarper (it removes the tokens whose ascending
// cumulative mass is <= 1 - top_p). (Mutation testing: "mass > top_p" kept a third token.)
TEST(Sampler, TopPReachedExactlyKeepsThatPrefix) {
  const std::vector<float> l{1.0f, 1.0f, 1.0f, 1.0f};
  Sampler s({1.0f, 0, 0.5f, 13});
  std::map<int32_t, int> count;
  for (int i = 0; i < 2000; ++i) ++count[s.sample(l.data(), 4)];
  EXPECT_EQ(count.size(), 2u);
  EXPECT_EQ(count.count(2) + count.count(3), 0u) << "ties keep the lower ids";
  EXPECT_NEAR(count[0] / 2000.0, 0.5, 0.05);
}

TEST(Sampler, FrequenciesFollowSoftmaxAtTemperature) {
  const std::vector<float> l{0.0f, std::log(3.0f)};  // p = 1/4, 3/4 at T=1
  Sampler s({1.0f, 0, 1.0f, 11});
  int ones = 0;
  for (int i = 0; i < 4000; ++i) ones += s.sample(l.data(), 2);
  EXPECT_NEAR(ones / 4000.0, 0.75, 0.03);
  Sampler cold({0.25f, 0, 1.0f, 11});  // p ∝ 3^4: 81/82
  ones = 0;
  for (int i = 0; i < 4000; ++i) ones += cold.sample(l.data(), 2);
  EXPECT_NEAR(ones / 4000.0, 81.0 / 82.0, 0.01);
}

TEST(Sampler, RejectsBadParametersAndNaN) {
  EXPECT_THROW(Sampler({-1.0f, 0, 1.0f, 0}), Error);
  EXPECT_THROW(Sampler({1.0f, -1, 1.0f, 0}), Error);
  EXPECT_THROW(Sampler({1.0f, 0, 0.0f, 0}), Error);
  EXPECT_THROW(Sampler({1.0f, 0, 1.5f, 0}), Error);
  // An infinite temperature would flatten every row to uniform draws. (Mutation testing: without
  // the isfinite check it was accepted.)
  EXPECT_THROW(Sampler({INFINITY, 0, 1.0f, 0}), Error);
  EXPECT_THROW(Sampler({NAN, 0, 1.0f, 0}), Error);
  Sampler s({0.0f, 0, 1.0f, 0});
  const std::vector<float> l{1.0f, NAN};
  EXPECT_THROW(s.sample(l.data(), 2), Error);
}

}  // namespace
}  // namespace gqa
