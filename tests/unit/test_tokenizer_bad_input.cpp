// Damaged tokenizer files (the loader fuzzing's findings): each is one gqa::Error naming the file, the
// field and the bad value, never a crash, a hang, a huge allocation or a silently different tokenizer.
// Small inline tokenizer.json files, each a working one with one thing broken.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <limits>
#include <string>
#include <tuple>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_parts.h"
#include "tokenizer_test_util.h"

namespace gqa::tok::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A fresh directory per test: the loader also reads generation_config.json etc. beside tokenizer.json.
class TokDir {
 public:
  TokDir() : dir_(fs::temp_directory_path() / ("gqa_tok_bad_" + std::to_string(::getpid()) + "_" + std::to_string(n_++))) {
    fs::create_directories(dir_);
  }
  ~TokDir() { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& body) const {
    std::ofstream(dir_ / name, std::ios::binary) << body;
    return (dir_ / name).string();
  }
  std::string write(const std::string& name, const char* body) const { return write(name, std::string(body)); }
  std::string write(const std::string& name, const json& j) const { return write(name, j.dump()); }
  std::string tokenizer() const { return (dir_ / "tokenizer.json").string(); }

 private:
  static inline int n_ = 0;
  fs::path dir_;
};

// The message of loading `path`, or "loaded".
std::string load_error(const std::string& path) {
  try {
    Tokenizer::load(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "loaded";
}

void expect_message(const std::string& msg, const std::string& file, std::initializer_list<std::string> parts) {
  EXPECT_NE(msg.find(file + ": "), std::string::npos) << "does not name " << file << ": " << msg;
  for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "no '" << p << "' in: " << msg;
}

// Loads tokenizer.json = `j`: the error names the file and holds every one of `parts`.
void expect_refused(const json& j, std::initializer_list<std::string> parts) {
  TokDir d;
  d.write("tokenizer.json", j);
  expect_message(load_error(d.tokenizer()), "tokenizer.json", parts);
}

// The good tokenizer.json with `name` = `body` beside it: the error names `name`.
void expect_refused_beside(const std::string& name, const std::string& body, std::initializer_list<std::string> parts) {
  TokDir d;
  d.write("tokenizer.json", good_tokenizer());
  d.write(name, body);
  expect_message(load_error(d.tokenizer()), name, parts);
}

// `{"type": "Sequence", key: [ ... depth levels ... ]}` around `leaf`, as text (json would recurse).
std::string nested_sequence(const std::string& key, int depth, const std::string& leaf) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += R"({"type": "Sequence", ")" + key + R"(": [)";
  s += leaf;
  for (int i = 0; i < depth; ++i) s += "]}";
  return s;
}

TEST(TokenizerBadInput, TheGoodTokenizerLoads) {
  TokDir d;
  d.write("tokenizer.json", good_tokenizer());
  const Tokenizer tok = Tokenizer::load(d.tokenizer());
  EXPECT_EQ(join_ids(tok.encode("ab c<s>", true)), "4 2 3 4");
  EXPECT_EQ(tok.vocab_size(), 5);
  EXPECT_FALSE(tok.is_gguf());
}

// D2a: a pre_tokenizer/normalizer/decoder/post_processor Sequence 20,000 deep overflowed the stack.
TEST(TokenizerBadInput, DeepNestingIsRefusedAtTheDepthLimit) {
  std::string text = good_tokenizer().dump();
  const std::vector<std::pair<std::string, std::string>> stages = {
      {"pre_tokenizer", nested_sequence("pretokenizers", 20000, R"({"type": "ByteLevel"})")},
      {"normalizer", nested_sequence("normalizers", 20000, R"({"type": "NFC"})")},
      {"decoder", nested_sequence("decoders", 20000, R"({"type": "Fuse"})")},
      {"post_processor", nested_sequence("processors", 20000, "")},
  };
  for (const auto& [key, nested] : stages) {
    json j = good_tokenizer();
    j[key] = "@@";
    std::string body = j.dump();
    body.replace(body.find("\"@@\""), 4, nested);
    TokDir d;
    d.write("tokenizer.json", body);
    SCOPED_TRACE(key);
    expect_message(load_error(d.tokenizer()), "tokenizer.json", {"JSON nested more than 64 levels deep"});
  }
  // Real nesting (a few levels) still loads.
  json j = good_tokenizer();
  j["pre_tokenizer"] = json::parse(
      nested_sequence("pretokenizers", 10, R"({"type": "Split", "pattern": {"String": " "}, "behavior": "Removed"})"));
  TokDir d;
  d.write("tokenizer.json", j);
  EXPECT_EQ(join_ids(Tokenizer::load(d.tokenizer()).encode("ab c", false)), "2 3");
  // The files beside tokenizer.json too.
  for (const std::string name : {"tokenizer_config.json", "generation_config.json", "config.json"}) {
    expect_refused_beside(name, R"({"x": )" + std::string(1000, '[') + std::string(1000, ']') + "}",
                          {"JSON nested more than 64 levels deep"});
  }
}

// Every JSON file the tokenizer reads says "malformed JSON in <file>" for bad syntax and for a number
// past a double's range (one reader, core/json_limits.h, for these and config.json / the index).
TEST(TokenizerBadInput, MalformedJsonNamesTheFile) {
  TokDir d;
  d.write("tokenizer.json", R"({"model": {"type": "BPE", )");
  expect_message(load_error(d.tokenizer()), "tokenizer.json", {"malformed JSON in "});
  d.write("tokenizer.json", R"({"model": 1e400})");
  expect_message(load_error(d.tokenizer()), "tokenizer.json", {"malformed JSON in ", "1e400"});
  for (const std::string name : {"tokenizer_config.json", "generation_config.json", "config.json"}) {
    SCOPED_TRACE(name);
    expect_refused_beside(name, R"({"eos_token": )", {"malformed JSON in "});
  }
}

// D3: one large id sized the id -> token table (INT32_MAX: signed overflow; 1e8: 3 GB from a 35 KB file).
TEST(TokenizerBadInput, VocabIdsAreBoundedByTheModelLimitAndTheVocabularySize) {
  for (const int64_t id : {int64_t{2147483647}, int64_t{100000000}, int64_t{1} << 24, int64_t{70000}}) {
    json j = good_tokenizer();
    j["model"]["vocab"]["b"] = id;
    expect_refused(j, {"model.vocab[\"b\"] = " + std::to_string(id), "is not a token id"});
  }
  // A hole (ids that added tokens fill) is fine.
  json j = good_tokenizer();
  j["model"]["vocab"]["c"] = 100;
  TokDir d;
  d.write("tokenizer.json", j);
  EXPECT_EQ(Tokenizer::load(d.tokenizer()).vocab_size(), 101);
  // The model itself refuses past 2^24 (a GGUF's ids are positions, checked before; this guards the table).
  TokenMap vocab{{"a", 0}, {"b", int32_t{1} << 24}};
  try {
    BpeModel(vocab, {}, BpeOptions{}, "mem.json");
    ADD_FAILURE() << "id 2^24 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mem.json: token 'b' has id 16777216"), std::string::npos) << e.what();
  }
}

// D4: get<int32_t>() wrapped 2^32 + 1 to 1 and truncated 5.7 to 5; -7 made the special token text.
TEST(TokenizerBadInput, EveryIdIsANonNegativeIntegerWithinTheVocabulary) {
  for (const json& bad : {json(4294967297ull), json(5.7), json(-7), json(2147483647), json("4"), json(nullptr)}) {
    json j = good_tokenizer();
    j["added_tokens"][0]["id"] = bad;
    expect_refused(j, {"added_tokens[0].id = " + bad.dump(), "is not a token id"});
  }
  for (const json& bad : {json(4294967301ull), json(1.5), json(-1)}) {
    json j = good_tokenizer();
    j["model"]["vocab"]["c"] = bad;
    expect_refused(j, {"model.vocab[\"c\"] = " + bad.dump()});
  }
  json pp = good_tokenizer();
  pp["post_processor"]["special_tokens"]["<s>"]["ids"] = {4, 9};  // past the vocabulary's 5 ids
  expect_refused(pp, {"post_processor.special_tokens[\"<s>\"].ids[1] = 9", "from 0 to 4"});
  pp["post_processor"] = json::parse(R"({"type": "BertProcessing", "cls": ["<s>", -4], "sep": ["<s>", 4]})");
  expect_refused(pp, {"post_processor.cls[1] = -4"});

  for (const auto& [body, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"eos_token_id": 1099511627776})", "eos_token_id = 1099511627776"},
           {R"({"eos_token_id": [1, 2.5]})", "eos_token_id[1] = 2.5"},
           {R"({"eos_token_id": "1"})", "eos_token_id = \"1\""},
           {R"({"eos_token_id": 5})", "eos_token_id = 5"},
           {R"({"bos_token_id": -1})", "bos_token_id = -1"}}) {
    expect_refused_beside("generation_config.json", body, {field, "is not a token id"});
  }
  // A bad config.json bos is refused even though generation_config.json gave one first.
  {
    TokDir d;
    d.write("tokenizer.json", good_tokenizer());
    d.write("generation_config.json", R"({"bos_token_id": 4, "eos_token_id": [3, null]})");
    EXPECT_NE(load_error(d.tokenizer()).find("eos_token_id[1] = null"), std::string::npos);
    d.write("generation_config.json", R"({"bos_token_id": 4, "eos_token_id": [3, 4]})");
    d.write("config.json", R"({"bos_token_id": 8589934592, "eos_token_id": null})");
    EXPECT_NE(load_error(d.tokenizer()).find("config.json: bos_token_id = 8589934592"), std::string::npos);
    d.write("config.json", R"({"bos_token_id": 4, "eos_token_id": null})");
    const Tokenizer tok = Tokenizer::load(d.tokenizer());
    EXPECT_EQ(tok.bos_id(), 4);
    EXPECT_EQ(tok.eos_ids(), (std::vector<int32_t>{3, 4}));
  }
}

// D4: vocab_size() computed t.id + 1 in int32_t (overflow at INT32_MAX); the largest id a file may now
// give is just under 2^24.
TEST(TokenizerBadInput, VocabSizeOfTheLargestAcceptedId) {
  json j = good_tokenizer();
  j["post_processor"] = nullptr;
  j["added_tokens"][0]["id"] = 4 + 1 + 65535;  // the last id allowed: 65536 past 4 vocabulary and 1 added tokens
  TokDir d;
  d.write("tokenizer.json", j);
  EXPECT_EQ(Tokenizer::load(d.tokenizer()).vocab_size(), 4 + 1 + 65535 + 1);
  j["added_tokens"][0]["id"] = 4 + 1 + 65536;
  expect_refused(j, {"added_tokens[0].id = 65541", "at most 65536 past the vocabulary and its added tokens"});

  // Parts built by other code: INT32_MAX gives INT32_MAX, without the signed overflow.
  auto p = std::make_unique<TokenizerParts>();
  p->model = std::make_unique<BpeModel>(TokenMap{{"a", 0}}, std::vector<std::pair<std::string, std::string>>{},
                                        BpeOptions{}, "mem.json");
  p->added.add({std::numeric_limits<int32_t>::max(), "<x>", true});
  EXPECT_EQ(Tokenizer(std::move(p)).vocab_size(), std::numeric_limits<int32_t>::max());
}

// D5: merges / Sequence lists that are not arrays were read as empty (or as their values).
TEST(TokenizerBadInput, ListsMustBeArrays) {
  for (const json& bad : {json(nullptr), json("a b"), json::object({{"a", "b"}}), json(3)}) {
    json j = good_tokenizer();
    j["model"]["merges"] = bad;
    expect_refused(j, {"model.merges must be an array, got " + bad.dump()});
  }
  json missing = good_tokenizer();
  missing["model"].erase("merges");
  expect_refused(missing, {"model.merges must be an array, got nothing"});
  for (const json& bad : {json::array({1, 2}), json::array({"a"}), json(7), json("ab")}) {
    json j = good_tokenizer();
    j["model"]["merges"] = json::array({bad});
    expect_refused(j, {"model.merges entry " + bad.dump()});
  }
  for (const auto& [key, list, field] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"decoder", "decoders", "decoder Sequence.decoders"},
           {"normalizer", "normalizers", "normalizer Sequence.normalizers"},
           {"pre_tokenizer", "pretokenizers", "pre_tokenizer Sequence.pretokenizers"},
           {"post_processor", "processors", "post_processor Sequence.processors"}}) {
    for (const json& bad : {json(nullptr), json::object({{"type", "Fuse"}}), json("x")}) {
      json j = good_tokenizer();
      j[key] = {{"type", "Sequence"}, {list, bad}};
      expect_refused(j, {field + " must be an array, got " + bad.dump()});
    }
  }
  json added = good_tokenizer();
  added["added_tokens"] = json::object();
  expect_refused(added, {"added_tokens must be an array"});
}

// D9: tokenizer_config.json of the wrong shape gave nlohmann's message, naming no file.
TEST(TokenizerBadInput, TokenizerConfigOfTheWrongShapeNamesFileAndField) {
  expect_refused_beside("tokenizer_config.json", "[]", {"expected a JSON object, got []"});
  expect_refused_beside("tokenizer_config.json", R"({"eos_token": {"content": 5}})",
                        {"eos_token = {\"content\":5}", "is neither a string nor an AddedToken"});
  expect_refused_beside("tokenizer_config.json", R"({"bos_token": 4})", {"bos_token = 4"});
  expect_refused_beside("generation_config.json", "3", {"expected a JSON object, got 3"});
  TokDir d;
  d.write("tokenizer.json", good_tokenizer());
  d.write("tokenizer_config.json", R"({"bos_token": {"content": "<s>", "special": true}, "eos_token": "c"})");
  const Tokenizer tok = Tokenizer::load(d.tokenizer());
  EXPECT_EQ(tok.bos_id(), 4);
  EXPECT_EQ(tok.eos_ids(), std::vector<int32_t>{3});
}

// D10: Strip with content "" and a huge start looped 2^31 times per token.
TEST(TokenizerBadInput, StripNeedsOneCharacterAndCounts) {
  for (const json& content : {json(""), json("ab"), json("\u2581\u2581")}) {
    json j = good_tokenizer();
    j["decoder"] = {{"type", "Strip"}, {"content", content}, {"start", 1099511627776ull}, {"stop", 0}};
    expect_refused(j, {"decoder Strip.content = " + content.dump(), "is not exactly one character"});
  }
  for (const char* key : {"start", "stop"}) {
    json j = good_tokenizer();
    j["decoder"] = {{"type", "Strip"}, {"content", "a"}, {"start", 0}, {"stop", 0}};
    j["decoder"][key] = -1;
    expect_refused(j, {std::string("decoder Strip.") + key + " = -1", "is not a count"});
  }
  // A count past any token's length strips the whole token, quickly.
  json j = good_tokenizer();
  j["decoder"] = json::parse(
      R"({"type": "Sequence", "decoders": [{"type": "Strip", "content": "a", "start": 1099511627776, "stop": 0}]})");
  TokDir d;
  d.write("tokenizer.json", j);
  EXPECT_EQ(Tokenizer::load(d.tokenizer()).decode(std::vector<int32_t>{0, 1, 2, 3}), "bbc");
}

// GGUF v3 bytes, field by field (as test_tokenizer_gguf_reader.cpp writes them).
struct GgufBuilder {
  std::string b;
  template <typename T>
  GgufBuilder& put(T v) {
    b.append(reinterpret_cast<const char*>(&v), sizeof(T));
    return *this;
  }
  GgufBuilder& str(const std::string& s) {
    put<uint64_t>(s.size());
    b += s;
    return *this;
  }
};

// D8: merges_from_scores hashed both halves at every split of every token: quadratic in a token's length
// (a 400 KB token took 11 s). Only splits whose halves have the length of some token are looked up now.
TEST(TokenizerBadInput, LongGgufTokenLoadsInLinearTime) {
  const std::vector<std::string> tokens = {"<unk>", "a", "b", "ab", "abab", std::string(400000, 'x')};
  GgufBuilder g;
  g.b = "GGUF";
  g.put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(4);
  g.str("tokenizer.ggml.model").put<uint32_t>(8).str("llama");
  g.str("tokenizer.ggml.add_space_prefix").put<uint32_t>(7).put<uint8_t>(0);
  g.str("tokenizer.ggml.tokens").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(tokens.size());
  for (const std::string& t : tokens) g.str(t);
  g.str("tokenizer.ggml.scores").put<uint32_t>(9).put<uint32_t>(6).put<uint64_t>(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) g.put<float>(-static_cast<float>(i));
  TokDir d;
  const std::string path = d.write("long.gguf", g.b);
  const auto t0 = std::chrono::steady_clock::now();
  const Tokenizer tok = Tokenizer::load(path);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 2.0) << "loading a vocabulary with one 400 KB token";  // (milliseconds; was 11 s)
  EXPECT_EQ(join_ids(tok.encode("abab", false)), "4");  // ab + ab -> abab: the merges are still found
  EXPECT_EQ(join_ids(tok.encode("aba", false)), "3 1");
}

// Found during coverage-guided fuzzing (an input built by hand after reading the code): an added token that is not valid UTF-8 (here a lone lead byte of
// "€") matched inside a character and cut it ("€" encoded as that token, the rest lost). Refused.
TEST(TokenizerBadInput, GgufAddedTokensMustBeValidUtf8) {
  for (int32_t type : {3, 4}) {  // control, user-defined
    const std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "\xe2", "\xe2\x96\x81"};
    GgufBuilder g;
    g.b = "GGUF";
    g.put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(4);
    g.str("tokenizer.ggml.model").put<uint32_t>(8).str("llama");
    g.str("tokenizer.ggml.tokens").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(tokens.size());
    for (const std::string& t : tokens) g.str(t);
    g.str("tokenizer.ggml.scores").put<uint32_t>(9).put<uint32_t>(6).put<uint64_t>(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) g.put<float>(-static_cast<float>(i));
    g.str("tokenizer.ggml.token_type").put<uint32_t>(9).put<uint32_t>(5).put<uint64_t>(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) g.put<int32_t>(i == 3 ? type : 1);
    TokDir d;
    const std::string path = d.write("bad_utf8.gguf", g.b);
    const std::string msg = load_error(path);
    EXPECT_NE(msg.find("bad_utf8.gguf: token 3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("is not valid UTF-8"), std::string::npos) << msg;
  }
}

// Found during coverage-guided fuzzing (inputs built by hand after reading the code): HF's steps, chained, can multiply a text (forty Replace "a" ->
// "aa" normalizers: 2^40 bytes from one "a"; thirty ByteLevel pre-tokenizers double non-ASCII text
// each). Such a tokenizer loads, and encoding through it is refused by name once the text passes 64
// times its size; a chain that grows it a little still encodes.
TEST(TokenizerBadInput, StepsThatMultiplyTheTextAreRefused) {
  auto with_steps = [](const char* where, const json& step, int n) {
    json j = json::parse(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
    j[where] = {{"type", "Sequence"}, {std::string(where) == "normalizer" ? "normalizers" : "pretokenizers",
                                        json::array()}};
    json& list = j[where][std::string(where) == "normalizer" ? "normalizers" : "pretokenizers"];
    for (int i = 0; i < n; ++i) list.push_back(step);
    return j;
  };
  const json doubling = {{"type", "Replace"}, {"pattern", {{"String", "a"}}}, {"content", "aa"}};
  const json byte_level = {{"type", "ByteLevel"}, {"use_regex", false}, {"add_prefix_space", false}};
  TokDir d;
  d.write("tokenizer.json", with_steps("normalizer", doubling, 40));
  const Tokenizer forty = Tokenizer::load(d.tokenizer());
  try {
    forty.encode("a", false);
    ADD_FAILURE() << "forty doubling steps encoded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(d.tokenizer() + ": tokenizer normalizer: step 13 of 40 grew a 1-byte "
                                         "text to 8192 bytes"),
              std::string::npos)
        << e.what();
  }
  d.write("tokenizer.json", with_steps("normalizer", doubling, 3));
  EXPECT_EQ(join_ids(Tokenizer::load(d.tokenizer()).encode("a", false)), "0 0 0 0 0 0 0 0");
  d.write("tokenizer.json", with_steps("pre_tokenizer", byte_level, 30));
  try {
    Tokenizer::load(d.tokenizer()).encode("\xc3\xa9", false);
    ADD_FAILURE() << "thirty ByteLevel steps encoded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(d.tokenizer() + ": tokenizer pre-tokenizer: step"), std::string::npos)
        << e.what();
  }
}

// D12: a .gguf too short for the magic went to the JSON reader ("not valid JSON"); a GGUF under another name
// is still known by its magic, and is_gguf() tells --chat where the template is.
TEST(TokenizerBadInput, GgufIsRoutedByExtensionAndByMagic) {
  TokDir d;
  const std::string short_gguf = d.write("vocab.gguf", "GGU");
  const std::string msg = load_error(short_gguf);
  EXPECT_NE(msg.find("vocab.gguf"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("JSON"), std::string::npos) << msg;
  EXPECT_NE(load_error(d.write("empty.gguf", "")).find("empty.gguf"), std::string::npos);

  std::ifstream f(kFixtureDir + "gpt-2.gguf", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), {});
  const Tokenizer renamed = Tokenizer::load(d.write("vocab.bin", bytes));
  EXPECT_TRUE(renamed.is_gguf());
  EXPECT_EQ(join_ids(renamed.encode(" Hello world", false)), "18435 995");
}

// A FIFO where a tokenizer file is expected is refused by kind, not opened (open() waits for a
// writer that never comes): tokenizer.json and a .gguf.
TEST(TokenizerBadInput, FifoIsRefusedNotOpened) {
  TokDir d;
  const std::string json_fifo = d.tokenizer();
  ASSERT_EQ(::mkfifo(json_fifo.c_str(), 0600), 0);
  EXPECT_NE(load_error(json_fifo).find("is a FIFO"), std::string::npos) << load_error(json_fifo);
  const std::string gguf_fifo = (fs::path(json_fifo).parent_path() / "vocab.gguf").string();
  ASSERT_EQ(::mkfifo(gguf_fifo.c_str(), 0600), 0);
  EXPECT_NE(load_error(gguf_fifo).find("is a FIFO"), std::string::npos) << load_error(gguf_fifo);
}

}  // namespace
}  // namespace gqa::tok::test
