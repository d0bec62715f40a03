// Rotary frequency tables against the ones transformers computed for every fixture
// (tests/fixtures/rope_inv_freq.json), including dynamic NTK at several sequence lengths.
#include <gtest/gtest.h>

#include <algorithm>
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
                                           "head_dim", "qwen2_bias", "gqa_hd64", "gqa_hd128"),
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

// YaRN's bands, written out for one config where the truncation matters (the rope_yarn fixture's
// low band clamps to 0 whether floored or not): head_dim 16, theta 1e4, original context 4096,
// factor 4, beta_fast 32, beta_slow 1. The correction dims are 16 ln(4096 / (b 2 pi)) / (2 ln 1e4):
// 2.618 for b = 32 and 5.630 for b = 1; truncated (transformers' default) to 2 and 6. Frequency i
// mixes the unscaled 1e4^(-i/8) and its quarter by ramp r = clamp((i - low) / (high - low), 0, 1).
// attention_factor, when given, is the cos/sin scaling as it stands (else 0.1 ln(factor) + 1).
TEST(Rope, YarnBandsAndAttentionFactor) {
  ModelConfig c = ModelConfig::from_file("tests/fixtures/models/gqa/config.json");
  ASSERT_EQ(c.head_dim, 16);
  c.rope_theta = 10000.0;
  c.rope_scaling = RopeScaling{};
  c.rope_scaling.type = RopeType::kYarn;
  c.rope_scaling.factor = 4.0;
  c.rope_scaling.original_max_position_embeddings = 4096;
  const auto expect_ramp = [&](const RopeFrequencies& f, double low, double high, const std::string& what) {
    ASSERT_EQ(f.inv_freq.size(), 8u);
    for (int i = 0; i < 8; ++i) {
      const double unscaled = std::pow(10000.0, -i / 8.0);
      const double r = std::clamp((i - low) / (high - low), 0.0, 1.0);
      const double want = unscaled * (1 - r) + unscaled / 4 * r;
      EXPECT_NEAR(f.inv_freq[i], want, 1e-6 * want) << what << " inv_freq[" << i << "]";
    }
  };
  const RopeFrequencies truncated = rope_frequencies(c, 0);
  expect_ramp(truncated, 2.0, 6.0, "truncated");
  EXPECT_NEAR(truncated.attention_scaling, 0.1 * std::log(4.0) + 1.0, 1e-6);
  c.rope_scaling.truncate = false;
  const double low = 16 * std::log(4096 / (32 * 2 * M_PI)) / (2 * std::log(10000.0));
  const double high = 16 * std::log(4096 / (1 * 2 * M_PI)) / (2 * std::log(10000.0));
  expect_ramp(rope_frequencies(c, 0), low, high, "not truncated");
  c.rope_scaling.attention_factor = 1.5;
  EXPECT_FLOAT_EQ(rope_frequencies(c, 0).attention_scaling, 1.5f);
}

// YaRN's band edges as transformers clamps them: the upper end to dim - 1 (theta 10, original
// context 1024: the correction dims are 5.66 and 17.70, truncated to 5 and 18, and 18 becomes 15),
// and a band of width 0 widened to 0.001 (original context 4: both ends 0; without it the ramp
// divides 0 by 0 and the table is NaN). (Mutation testing: dropping either clamp passed.)
TEST(Rope, YarnBandEdgesClampedAsTransformers) {
  ModelConfig c = ModelConfig::from_file("tests/fixtures/models/gqa/config.json");
  ASSERT_EQ(c.head_dim, 16);
  c.rope_scaling = RopeScaling{};
  c.rope_scaling.type = RopeType::kYarn;
  c.rope_scaling.factor = 4.0;
  const auto expect_ramp = [](const RopeFrequencies& f, double theta, double low, double high, const std::string& what) {
    ASSERT_EQ(f.inv_freq.size(), 8u);
    for (int i = 0; i < 8; ++i) {
      const double unscaled = std::pow(theta, -i / 8.0);
      const double r = std::clamp((i - low) / (high - low), 0.0, 1.0);
      const double want = unscaled * (1 - r) + unscaled / 4 * r;
      EXPECT_NEAR(f.inv_freq[i], want, 1e-6 * want) << what << " inv_freq[" << i << "]";
    }
  };
  c.rope_theta = 10.0;
  c.rope_scaling.original_max_position_embeddings = 1024;
  expect_ramp(rope_frequencies(c, 0), 10.0, 5.0, 15.0, "upper end clamped to dim - 1");
  c.rope_theta = 10000.0;
  c.rope_scaling.original_max_position_embeddings = 4;
  expect_ramp(rope_frequencies(c, 0), 10000.0, 0.0, 0.001, "band of width 0");
}

// YaRN's attention scaling from mscale and mscale_all_dim, read from config.json as transformers
// does (_compute_yarn_parameters): their ratio only when both are given and non-zero, else
// 0.1 ln(factor) + 1 whichever one is given. (Mutation testing: "mscale || mscale_all_dim", and a
// default of 1 for either field, passed.)
TEST(Rope, YarnMscaleOnlyWithBothFields) {
  auto scaling = [](const std::string& extra) {
    const std::string j = R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
      "num_hidden_layers": 1, "num_attention_heads": 4, "rms_norm_eps": 1e-5, "vocab_size": 10,
      "rope_scaling": {"rope_type": "yarn", "factor": 4.0)" + extra + "}}";
    return rope_frequencies(ModelConfig::from_json_text(j, "yarn.json"), 0).attention_scaling;
  };
  const double plain = 0.1 * std::log(4.0) + 1.0;
  EXPECT_NEAR(scaling(""), plain, 1e-6);
  EXPECT_NEAR(scaling(R"(, "mscale": 0.7)"), plain, 1e-6);
  EXPECT_NEAR(scaling(R"(, "mscale_all_dim": 0.7)"), plain, 1e-6);
  EXPECT_NEAR(scaling(R"(, "mscale": 0.7, "mscale_all_dim": 0.3)"),
              (0.07 * std::log(4.0) + 1.0) / (0.03 * std::log(4.0) + 1.0), 1e-6);
}

TEST(Rope, RefusesOddHeadDim) {
  ModelConfig c = ModelConfig::from_file("tests/fixtures/models/gqa/config.json");
  c.head_dim = 15;
  EXPECT_THROW(rope_frequencies(c, 0), Error);
}

}  // namespace
}  // namespace gqa
