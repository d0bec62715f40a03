// Rotary frequency tables against the ones transformers computed for every fixture
// (tests/fixtures/rope_inv_freq.json), including dynamic NTK at several sequence lengths.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/config.h"
#include "model/rope.h"
#include "core/error.h"

namespace gqa {
namespace {

const nlohmann::json& table() {
  static const nlohmann::json j = [] {
    std::ifstream f("tests/fixtures/rope_inv_freq.json");
    EXPECT_TRUE(f) << "missing tests/fixtures/rope_inv_freq.json";
    return nlohmann::json::parse(f);
  }();
  return j;
}

void expect_table(const RopeFrequencies& got, const nlohmann::json& want, const std::string& what) {
  const auto inv = want["inv_freq"].get<std::vector<double>>();
  ASSERT_EQ(got.inv_freq.size(), inv.size()) << what;
  for (size_t i = 0; i < inv.size(); ++i) {
    EXPECT_NEAR(got.inv_freq[i], inv[i], 2e-7 * std::abs(inv[i]) + 1e-12) << what << " inv_freq[" << i << "]";
  }
  EXPECT_NEAR(got.attention_scaling, want["attention_scaling"].get<double>(), 1e-6) << what;
}

class RopeFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(RopeFixture, MatchesTransformers) {
  const std::string name = GetParam();
  const ModelConfig c = ModelConfig::from_file("tests/fixtures/models/" + name + "/config.json");
  const nlohmann::json& want = table()["fixtures"][name];
  // Position 0: what a fresh model uses before any dynamic growth.
  expect_table(rope_frequencies(c, 0), want, name);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RopeFixture,
                         ::testing::Values("gqa", "llama3_rope", "rope_linear", "rope_dynamic", "rope_yarn",
                                           "head_dim", "qwen2_bias"),
                         [](const auto& info) { return info.param; });

TEST(RopeDynamic, GrowsWithSequenceLengthLikeTransformers) {
  const ModelConfig c = ModelConfig::from_file("tests/fixtures/models/rope_dynamic/config.json");
  const nlohmann::json& by_len = table()["fixtures"]["rope_dynamic"]["dynamic_inv_freq_by_seq_len"];
  ASSERT_GE(by_len.size(), 3u);
  for (const auto& [len, want] : by_len.items()) {
    const int64_t seq_len = std::stoll(len);
    expect_table(rope_frequencies(c, seq_len - 1), want, "seq_len " + len);
  }
}

TEST(RopeDynamic, UnscaledUpToMaxPositionEmbeddings) {
  const ModelConfig c = ModelConfig::from_file("tests/fixtures/models/rope_dynamic/config.json");
  const RopeFrequencies at_limit = rope_frequencies(c, c.max_position_embeddings - 1);
  const RopeFrequencies beyond = rope_frequencies(c, c.max_position_embeddings);
  const auto unscaled = table()["fixtures"]["rope_dynamic"]["inv_freq_unscaled"].get<std::vector<double>>();
  for (size_t i = 0; i < unscaled.size(); ++i) EXPECT_NEAR(at_limit.inv_freq[i], unscaled[i], 1e-7 * unscaled[i]);
  EXPECT_LT(beyond.inv_freq.back(), at_limit.inv_freq.back());  // longer context: lower frequencies
}

TEST(Rope, RefusesOddHeadDim) {
  ModelConfig c = ModelConfig::from_file("tests/fixtures/models/gqa/config.json");
  c.head_dim = 15;
  EXPECT_THROW(rope_frequencies(c, 0), Error);
}

}  // namespace
}  // namespace gqa
