// Encodings equal Hugging Face tokenizers on the whole fixture corpus, for every vocabulary; decode equals
// HF decode. References: tests/fixtures/tokenizer/make_tokenizer_fixtures.py.
#include <gtest/gtest.h>
#include <unistd.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace gqa::tok::test {
namespace {

class HfEquality : public ::testing::TestWithParam<std::string> {};

TEST_P(HfEquality, EncodeAndDecodeMatchReference) {
  const std::string vocab = GetParam();
  const Tokenizer tok = Tokenizer::load(kFixtureDir + vocab);
  const nlohmann::json expected = read_fixture_json(expected_name(vocab));
  const std::vector<CorpusText> corpus = load_corpus();
  ASSERT_EQ(expected.at("encode").size(), corpus.size()) << vocab;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const auto want = expected["encode"][i].get<std::vector<int32_t>>();
    const auto want_special = expected["encode_special"][i].get<std::vector<int32_t>>();
    EXPECT_EQ(join_ids(tok.encode(corpus[i].bytes, false)), join_ids(want)) << vocab << " / " << corpus[i].name;
    EXPECT_EQ(join_ids(tok.encode(corpus[i].bytes, true)), join_ids(want_special)) << vocab << " / " << corpus[i].name;
    EXPECT_EQ(tok.decode(want), expected["decode"][i].get<std::string>()) << vocab << " / " << corpus[i].name;
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, HfEquality, ::testing::ValuesIn(kVocabularies),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(TokenizerLoad, SharedVocabularyCopiesAreIdenticalWhenSharedIsPresent) {
  // The copies in tests/fixtures/tokenizer/ must be the shared files; CI has ../shared beside the clone.
  for (const std::string name : {"llama-spm.gguf", "gpt-2.gguf"}) {
    const std::string shared = "../shared/data/vocab/" + name;
    if (!std::filesystem::exists(shared)) continue;
    std::ifstream a(shared, std::ios::binary), b(kFixtureDir + name, std::ios::binary);
    const std::string sa((std::istreambuf_iterator<char>(a)), {}), sb((std::istreambuf_iterator<char>(b)), {});
    EXPECT_TRUE(sa == sb) << name << " differs from " << shared;
  }
}

TEST(TokenizerLoad, SpecialIdsOfTheSharedVocabularies) {
  const Tokenizer llama = Tokenizer::load(kFixtureDir + "llama-spm.gguf");
  EXPECT_EQ(llama.bos_id(), 1);
  EXPECT_EQ(llama.eos_ids(), std::vector<int32_t>{2});
  EXPECT_EQ(llama.vocab_size(), 32000);
  EXPECT_EQ(llama.token_text(15043), "\u2581Hello");
  EXPECT_EQ(llama.token_id("<0x0A>"), 13);
  EXPECT_TRUE(llama.is_special(1));
  EXPECT_FALSE(llama.is_special(15043));
  const Tokenizer gpt2 = Tokenizer::load(kFixtureDir + "gpt-2.gguf");
  EXPECT_EQ(gpt2.eos_ids(), std::vector<int32_t>{50256});
  EXPECT_EQ(gpt2.vocab_size(), 50257);
}

TEST(TokenizerLoad, ErrorsNameTheFile) {
  const auto message = [](const std::string& path) {
    try {
      Tokenizer::load(path);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("tests/fixtures/tokenizer/no-such.json").find("no-such.json"), std::string::npos);
  EXPECT_NE(message(kFixtureDir + "corpus.json").find("corpus.json"), std::string::npos);
  EXPECT_NE(message("tests/fixtures").find("tokenizer.json"), std::string::npos);
}

TEST(TokenizerLoad, DirectoryWithConfigFilesAndOutOfRangeIds) {
  // A model directory: tokenizer.json plus the files transformers reads the special tokens from.
  const auto dir = std::filesystem::temp_directory_path() / ("gqa-tok-dir-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(kFixtureDir + "spm-hub.json", dir / "tokenizer.json",
                             std::filesystem::copy_options::overwrite_existing);
  std::ofstream(dir / "tokenizer_config.json") << R"({"bos_token": {"content": "<s>"}, "eos_token": "</s>"})";
  std::ofstream(dir / "generation_config.json") << R"({"eos_token_id": [2, 0]})";
  const Tokenizer tok = Tokenizer::load(dir.string());
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_ids(), (std::vector<int32_t>{2, 0}));
  EXPECT_EQ(tok.encode("Hello", true).front(), 1);
  EXPECT_THROW(tok.decode(std::vector<int32_t>{100000}), std::exception);
  EXPECT_THROW(tok.token_text(-1), std::exception);
  EXPECT_TRUE(tok.spells(1));
  EXPECT_FALSE(tok.spells(100000));
  EXPECT_FALSE(tok.spells(-1));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gqa::tok::test
