// The bounds-checked GGUF reader: a well-formed file reads back, and every kind of damage (truncation at
// any byte, counts and lengths past the end, bad magic/version/alignment, tensor data past the end) is a
// gqa::Error naming the file and key, never a crash.
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "tokenizer/gguf_reader.h"
#include "tokenizer_test_util.h"

namespace gqa {
namespace {

// Writes GGUF v3 bytes field by field.
struct GgufBuilder {
  std::vector<uint8_t> b;
  template <typename T>
  GgufBuilder& put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
    return *this;
  }
  GgufBuilder& str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  GgufBuilder& header(uint64_t n_tensors, uint64_t n_kv) {
    b.insert(b.end(), {'G', 'G', 'U', 'F'});
    return put<uint32_t>(3).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
  }
};

// Two tensors, five keys of different types, 32-byte aligned data.
std::vector<uint8_t> good_file() {
  GgufBuilder g;
  g.header(2, 5);
  g.str("general.architecture").put<uint32_t>(8).str("llama");
  g.str("llama.block_count").put<uint32_t>(4).put<uint32_t>(2);
  g.str("tokenizer.ggml.tokens").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(3).str("a").str("b").str("ab");
  g.str("tokenizer.ggml.scores").put<uint32_t>(9).put<uint32_t>(6).put<uint64_t>(3).put(0.f).put(-1.f).put(-2.f);
  g.str("general.flag").put<uint32_t>(7).put<uint8_t>(1);
  g.str("w").put<uint32_t>(2).put<uint64_t>(4).put<uint64_t>(2).put<uint32_t>(0).put<uint64_t>(0);  // f32 [2,4]
  g.str("v").put<uint32_t>(1).put<uint64_t>(8).put<uint32_t>(1).put<uint64_t>(32);                  // f16 [8]
  while (g.b.size() % 32) g.b.push_back(0);
  for (int i = 0; i < 48; ++i) g.b.push_back(static_cast<uint8_t>(i));
  return g.b;
}

GgufFile parse(std::vector<uint8_t> bytes) {
  return parse_gguf(std::make_shared<const std::vector<uint8_t>>(std::move(bytes)), "mem.gguf");
}

std::string error_of(std::vector<uint8_t> bytes) {
  try {
    parse(std::move(bytes));
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(GgufReader, ReadsKeysArraysAndTensorInfos) {
  const GgufFile f = parse(good_file());
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_int("llama.block_count"), 2);
  EXPECT_TRUE(f.get_bool("general.flag"));
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens"), (std::vector<std::string>{"a", "b", "ab"}));
  EXPECT_EQ(f.get_float_array("tokenizer.ggml.scores"), (std::vector<double>{0, -1, -2}));
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.tensors()[0].name, "w");
  EXPECT_EQ(f.tensors()[0].dims, (std::vector<uint64_t>{4, 2}));
  EXPECT_EQ(f.tensors()[0].nbytes, 32u);
  EXPECT_EQ(f.tensors()[1].nbytes, 16u);
  EXPECT_EQ(f.tensor_data(f.tensors()[1])[0], 32);
  EXPECT_EQ(f.keys().size(), 5u);
}

TEST(GgufReader, WrongTypeAndMissingKeyNameFileAndKey) {
  const GgufFile f = parse(good_file());
  for (const auto& call : std::vector<std::function<void()>>{
           [&] { f.get_int("general.architecture"); }, [&] { f.get_string("nope.key"); },
           [&] { f.get_string_array("tokenizer.ggml.scores"); }}) {
    try {
      call();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("mem.gguf"), std::string::npos) << e.what();
    }
  }
}

TEST(GgufReader, EveryTruncationIsAnError) {
  const std::vector<uint8_t> full = good_file();
  const size_t data_start = full.size() - 48;
  for (size_t n = 0; n < data_start + 40; ++n) {
    const std::string msg = error_of(std::vector<uint8_t>(full.begin(), full.begin() + n));
    EXPECT_NE(msg, "no error") << "cut at " << n;
    EXPECT_NE(msg.find("mem.gguf"), std::string::npos) << msg;
  }
}

TEST(GgufReader, BadMagicVersionAndCounts) {
  std::vector<uint8_t> f = good_file();
  f[0] = 'X';
  EXPECT_NE(error_of(f).find("bad magic"), std::string::npos);
  f = good_file();
  f[4] = 1;
  EXPECT_NE(error_of(f).find("version 1"), std::string::npos);
  GgufBuilder g;
  g.header(0, 1000000000000ull);
  EXPECT_NE(error_of(g.b).find("key/value count"), std::string::npos);
  GgufBuilder a;  // array count past the end of the file
  a.header(0, 1).str("tokenizer.ggml.tokens").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(1ull << 60);
  EXPECT_NE(error_of(a.b).find("tokenizer.ggml.tokens array count"), std::string::npos) << error_of(a.b);
  GgufBuilder s;  // string length past the end of the file
  s.header(0, 1).str("general.name").put<uint32_t>(8).put<uint64_t>(~0ull);
  EXPECT_NE(error_of(s.b).find("general.name"), std::string::npos) << error_of(s.b);
  GgufBuilder t;  // unknown value type
  t.header(0, 1).str("k").put<uint32_t>(99);
  EXPECT_NE(error_of(t.b).find("unknown value type 99"), std::string::npos);
}

TEST(GgufReader, TensorDataPastTheEndAndBadAlignment) {
  GgufBuilder g;
  g.header(1, 0).str("big").put<uint32_t>(1).put<uint64_t>(1 << 20).put<uint32_t>(0).put<uint64_t>(0);
  EXPECT_NE(error_of(g.b).find("tensor big"), std::string::npos) << error_of(g.b);
  GgufBuilder a;
  a.header(0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(3);
  EXPECT_NE(error_of(a.b).find("general.alignment"), std::string::npos);
  GgufBuilder d;
  d.header(1, 0).str("t").put<uint32_t>(7).put<uint64_t>(1);
  EXPECT_NE(error_of(d.b).find("n_dims 7"), std::string::npos);
}

TEST(GgufReader, RealVocabularyFile) {
  const GgufFile f = GgufFile::open(tok::test::kFixtureDir + "llama-spm.gguf");
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens").size(), 32000u);
  EXPECT_THROW(GgufFile::open(tok::test::kFixtureDir + "missing.gguf"), Error);
}

}  // namespace
}  // namespace gqa
