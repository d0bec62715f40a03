// Rules of HF tokenizers that no fixture vocabulary exercises, each on a small inline tokenizer.json
// (what HF's tokenizers library does, from its documented behaviour): unknown characters one unk each
// unless fuse_unk; ByteFallback's hex digits in either case; the longest of two added tokens that
// start at the same place.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace gqa::tok {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// tokenizer_test_util.h's small BPE without its post-processor (encode(text, false) either way).
json small_tokenizer() {
  json j = test::good_tokenizer();
  j["post_processor"] = nullptr;
  return j;
}

// `j` written as tokenizer.json in a fresh folder, loaded.
Tokenizer load(const json& j) {
  static int n = 0;
  const fs::path dir = fs::temp_directory_path() / ("gqa_tok_rules_" + std::to_string(::getpid()) + "_" +
                                                    std::to_string(n++));
  fs::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << j.dump();
  Tokenizer t = Tokenizer::load((dir / "tokenizer.json").string());
  fs::remove_all(dir);
  return t;
}

TEST(TokenizerRules, UnknownCharactersOneUnkEachUnlessFused) {
  json j = small_tokenizer();
  j["model"]["unk_token"] = "c";
  j["model"]["fuse_unk"] = false;
  EXPECT_EQ(load(j).encode("xy", false), (std::vector<int32_t>{3, 3}));
  EXPECT_EQ(load(j).encode("xaby", false), (std::vector<int32_t>{3, 2, 3}));
  j["model"]["fuse_unk"] = true;
  EXPECT_EQ(load(j).encode("xy", false), (std::vector<int32_t>{3}));
  EXPECT_EQ(load(j).encode("xaby", false), (std::vector<int32_t>{3, 2, 3}));
}

TEST(TokenizerRules, ByteFallbackTakesHexInEitherCase) {
  const Decoder d = Decoder::from_json(json::parse(R"({"type": "ByteFallback"})"), "t");
  EXPECT_EQ(d.decode({"<0xE2>", "<0x82>", "<0xAC>"}), "\xe2\x82\xac");  // the euro sign
  EXPECT_EQ(d.decode({"<0xe2>", "<0x82>", "<0xac>"}), "\xe2\x82\xac");
}

// HF's added vocabulary matches leftmost-longest: "<s>c" (id 5) over "<s>" (id 4) then "c".
TEST(TokenizerRules, TheLongestAddedTokenWins) {
  json j = small_tokenizer();
  j["added_tokens"].push_back(json::parse(R"({"id": 5, "content": "<s>c", "special": true, "normalized": false})"));
  const Tokenizer t = load(j);
  EXPECT_EQ(t.encode("<s>c", false), (std::vector<int32_t>{5}));
  EXPECT_EQ(t.encode("<s>ab", false), (std::vector<int32_t>{4, 2}));
  EXPECT_EQ(t.encode("a<s>cc", false), (std::vector<int32_t>{0, 5, 3}));
}

}  // namespace
}  // namespace gqa::tok
