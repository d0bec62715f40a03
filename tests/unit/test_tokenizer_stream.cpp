// Streaming detokenizer: text comes out only at complete UTF-8 characters, the pieces add up to decode(),
// byte-fallback and byte-level characters split across tokens are held, a cut stream flushes U+FFFD, and
// SentencePiece's leading space is dropped at the start of a stream but kept after a context.
#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "tokenizer_test_util.h"

namespace gqa::tok::test {
namespace {

std::string stream_all(const Tokenizer& tok, const std::vector<int32_t>& ids, std::vector<std::string>* pieces) {
  StreamDecoder dec(tok, /*skip_special=*/false);
  std::string all;
  for (int32_t id : ids) {
    pieces->push_back(dec.push(id));
    all += pieces->back();
  }
  pieces->push_back(dec.flush());
  return all + pieces->back();
}

TEST(StreamDecoder, PiecesAreValidUtf8AndAddUpToDecodeForTheWholeCorpus) {
  for (const std::string& vocab : kVocabularies) {
    const Tokenizer tok = Tokenizer::load(kFixtureDir + vocab);
    for (const CorpusText& t : load_corpus()) {
      const std::vector<int32_t> ids = tok.encode(t.bytes, false);
      std::vector<std::string> pieces;
      EXPECT_EQ(stream_all(tok, ids, &pieces), tok.decode(ids)) << vocab << " / " << t.name;
      for (const std::string& p : pieces) EXPECT_TRUE(is_valid_utf8(p)) << vocab << " / " << t.name;
    }
  }
}

TEST(StreamDecoder, ByteFallbackCharacterIsHeldUntilComplete) {
  const Tokenizer tok = Tokenizer::load(kFixtureDir + "llama-spm.gguf");
  // "😀" = <0xF0> <0x9F> <0x98> <0x80> after "▁" (29871)
  const std::vector<int32_t> ids = tok.encode("a \U0001F600", false);
  ASSERT_GE(ids.size(), 4u);
  StreamDecoder dec(tok);
  std::string out;
  for (size_t i = 0; i + 1 < ids.size(); ++i) {
    const std::string piece = dec.push(ids[i]);
    EXPECT_EQ(piece.find("\xF0"), std::string::npos) << "a partial character was emitted";
    out += piece;
  }
  const std::string last = dec.push(ids.back());
  EXPECT_NE(last.find("\U0001F600"), std::string::npos);
  EXPECT_EQ(out + last + dec.flush(), "a \U0001F600");
}

TEST(StreamDecoder, ByteLevelCharacterSplitAcrossTokens) {
  const Tokenizer tok = Tokenizer::load(kFixtureDir + "gpt-2.gguf");
  const std::vector<int32_t> ids = tok.encode(" \U0001F600", false);  // 'ĠðŁĺ' 'Ģ': the emoji spans two tokens
  ASSERT_EQ(ids.size(), 2u);
  StreamDecoder dec(tok);
  EXPECT_EQ(dec.push(ids[0]), " ");
  EXPECT_EQ(dec.push(ids[1]), "\U0001F600");
  EXPECT_EQ(dec.flush(), "");
}

TEST(StreamDecoder, StreamCutMidCharacterFlushesReplacementCharacter) {
  for (const std::string vocab : {"llama-spm.gguf", "gpt-2.gguf"}) {
    const Tokenizer tok = Tokenizer::load(kFixtureDir + vocab);
    std::vector<int32_t> ids = tok.encode("ok \U0001F600", false);
    ids.pop_back();  // the token limit cut the emoji
    StreamDecoder dec(tok);
    std::string out;
    for (int32_t id : ids) out += dec.push(id);
    EXPECT_EQ(out, "ok ") << vocab;
    const std::string tail = dec.flush();
    EXPECT_EQ(tail, "\xEF\xBF\xBD") << vocab;
    EXPECT_TRUE(is_valid_utf8(out + tail));
  }
}

TEST(StreamDecoder, LeadingSpaceRuleOfSentencePiece) {
  const Tokenizer tok = Tokenizer::load(kFixtureDir + "llama-spm.gguf");
  const std::vector<int32_t> hello = tok.encode("Hello", false), world = tok.encode(" world", false);
  ASSERT_EQ(world.size(), 1u);  // "▁world"
  StreamDecoder fresh(tok);
  EXPECT_EQ(fresh.push(world[0]), "world");  // the first token of a text loses its space, as decode() does
  StreamDecoder after(tok, true, hello);
  EXPECT_EQ(after.push(world[0]), " world");  // continuing a prompt keeps it
  EXPECT_EQ(after.push(world[0]), " world");
}

TEST(StreamDecoder, SkipsSpecialTokensByDefault) {
  const Tokenizer tok = Tokenizer::load(kFixtureDir + "llama-spm.gguf");
  StreamDecoder dec(tok);
  EXPECT_EQ(dec.push(1), "");
  EXPECT_EQ(dec.push(tok.encode("Hi", false)[0]), "Hi");
  EXPECT_EQ(dec.push(2), "");
  EXPECT_THROW(dec.push(123456), std::exception);
}

TEST(Utf8, RepairMatchesPythonReplaceDecoding) {
  EXPECT_EQ(repair_utf8("a\xff" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(repair_utf8("\xe4\xbd"), "\xEF\xBF\xBD");                       // one maximal subpart
  EXPECT_EQ(repair_utf8("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate: 3 bytes, 3 U+FFFD
  EXPECT_EQ(repair_utf8("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
  EXPECT_EQ(utf8_incomplete_tail("x\xf0\x9f", 1), 2u);
  EXPECT_EQ(utf8_incomplete_tail("x\xf0\x20", 1), 0u);
}

}  // namespace
}  // namespace gqa::tok::test
