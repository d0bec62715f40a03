// Where Hugging Face's Unicode data differs from PCRE2's and ICU's, gqa does as HF: the character
// classes in PCRE2 patterns (tokenizer/regex_unicode.h: the rewrite of \s, \S and \p{X}, and what
// the compiled Regex then matches), and the normalizers' Unicode 9.0 (normalizer.cpp). The fixture
// corpus's mongolian_vowel_separator, unicode16_letters_digits and marks_after_unicode_9 texts check
// the same against HF's ids.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tokenizer/normalizer.h"
#include "tokenizer/regex.h"
#include "tokenizer/regex_unicode.h"

namespace gqa::tok {
namespace {

const std::string kWs = "\\t-\\r\\x{85}\\p{Z}";

bool full_match(const std::string& pattern, const std::string& text) {
  const Regex re("^(?:" + pattern + ")$", "test");
  return !re.find_all(text).empty();
}

TEST(TokenizerHfUnicode, WhiteSpaceIsUnicodesWithoutU180E) {
  EXPECT_EQ(hf_character_classes("\\s+(?!\\S)"), "[" + kWs + "]+(?![^" + kWs + "])");
  EXPECT_EQ(hf_character_classes("[^\\s\\r]"), "[^" + kWs + "\\r]");
  for (const char* space : {" ", "\t", "\n", "\r", "\x0b", "\x0c", "\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80",
                            "\xe2\x80\x80", "\xe2\x80\x8a", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xaf",
                            "\xe2\x81\x9f", "\xe3\x80\x80"}) {
    EXPECT_TRUE(full_match("\\s", space)) << "U+" << space;
    EXPECT_FALSE(full_match("\\S", space));
  }
  EXPECT_FALSE(full_match("\\s", "\xe1\xa0\x8e"));  // U+180E
  EXPECT_TRUE(full_match("\\S", "\xe1\xa0\x8e"));
  EXPECT_TRUE(full_match("[^\\s\\p{L}\\p{N}]", "\xe1\xa0\x8e"));
  EXPECT_FALSE(full_match("\\s", "\xe2\x80\x8b"));  // U+200B ZERO WIDTH SPACE: not white space to either
}

TEST(TokenizerHfUnicode, CategoriesGainUnicode16CodePoints) {
  const std::string cjk_h = "\xf0\xb1\x8d\x90", garay_digit = "\xf0\x90\xb5\x80", a7cb = "\xea\x9f\x8b";
  EXPECT_TRUE(full_match("\\p{L}", cjk_h));
  EXPECT_TRUE(full_match("\\p{Lo}", cjk_h));
  EXPECT_TRUE(full_match("\\p{Lu}", a7cb));
  EXPECT_TRUE(full_match("\\p{N}", garay_digit));
  EXPECT_TRUE(full_match("\\p{Nd}", garay_digit));
  EXPECT_FALSE(full_match("\\P{L}", cjk_h));
  EXPECT_FALSE(full_match("[^\\s\\p{L}\\p{N}]", cjk_h));
  EXPECT_FALSE(full_match("[^\\s\\p{L}\\p{N}]", garay_digit));
  EXPECT_FALSE(full_match("\\p{N}", cjk_h));  // each category gains its own code points only
  EXPECT_TRUE(full_match("\\p{L}+", "abc" + cjk_h));
}

// HF's regex engine (Oniguruma, Ruby syntax) reads these otherwise than PCRE2 (tokenizers 0.23.3's
// Split pre-tokenizer gave each expectation).
TEST(TokenizerHfUnicode, OnigurumasOwnReadings) {
  const std::string garay_digit = "\xf0\x90\xb5\x80";
  EXPECT_TRUE(full_match("\\d+", "1" + garay_digit));  // \d: Unicode 16.0's Nd
  EXPECT_TRUE(full_match("[\\d]+", "12" + garay_digit));
  EXPECT_TRUE(full_match("\\D+", "ab"));
  EXPECT_FALSE(full_match("\\D", garay_digit));
  EXPECT_TRUE(full_match("\\h+", "ab12fF"));  // \h: a hexadecimal digit, not a space
  EXPECT_FALSE(full_match("\\h", " "));
  EXPECT_TRUE(full_match("\\H+", " xyz"));
  EXPECT_TRUE(full_match("\\pL", "pL"));  // \pL without braces: the text "pL"
  EXPECT_FALSE(full_match("\\pL", "a"));
  EXPECT_TRUE(full_match("\\PL", "PL"));
  // What only looks like a class: \c[ is ESC, (?#[) a comment; the \s after each is still rewritten.
  EXPECT_TRUE(full_match("\\c[\\s", "\x1b "));
  EXPECT_FALSE(full_match("\\c[\\s", "\x1b\xe1\xa0\x8e"));
  EXPECT_TRUE(full_match("(?#[)\\s+", "  "));
  // "[:]" is no POSIX class: the class [[:] ends at its ']' (PCRE2), the \s after it is outside
  EXPECT_EQ(hf_character_classes("[[:]\\s:]x\\s"), "[[:][" + kWs + "]:]x[" + kWs + "]");
  EXPECT_EQ(hf_character_classes("[a\\s"), "[a\\s");  // never closed: left as written (PCRE2's error)
}

TEST(TokenizerHfUnicode, LeavesWhatIsNotAClassEscape) {
  for (const char* same : {"\\\\s", "\\Q\\s\\p{L}\\E", "[\\]\\[]", "[]a]", "\\p{Han}", "\\p{^L}", "\\p{L&}",
                           "[[:alpha:]]", "\\x{180E}", "a\\|b", "'s|'t"}) {
    EXPECT_EQ(hf_character_classes(same), same) << same;
  }
  EXPECT_EQ(hf_character_classes("[\\S]"), "[\\S]");  // inside a class: a class cannot subtract U+180E
  EXPECT_EQ(hf_character_classes("[]\\s]"), "[]" + kWs + "]");  // ']' first is a member: still in the class
  EXPECT_EQ(hf_character_classes("[[:space:]\\s]"), "[[:space:]" + kWs + "]");
}

TEST(TokenizerHfUnicode, EveryRewrittenShippedPatternCompiles) {
  // The GPT-2, Llama-3 and Qwen2 split patterns (pre_tokenizer.cpp's GGUF table has them too).
  for (const char* p : {"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
                        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                        "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}) {
    EXPECT_NO_THROW(Regex(p, "test")) << p;
  }
}

// HF's outputs (tokenizers 0.23.3's NFC/NFD/NFKC/NFKD): code points assigned after Unicode 9.0 (U+1DF6,
// U+0C3C: combining marks to ICU; U+A7F2: <super> C to ICU) are starters with no mapping to HF.
TEST(TokenizerHfUnicode, NormalizersKnowUnicode9Only) {
  const auto apply = [](const char* type, const std::string& text) {
    return Normalizer::from_json(nlohmann::json{{"type", type}}, "test").apply(text);
  };
  const std::string x_1df6_0300 = "x\xe1\xb7\xb6\xcc\x80", a7f2 = "\xea\x9f\xb2";
  const std::string x_0300_0c3c_0316 = "x\xcc\x80\xe0\xb0\xbc\xcc\x96";
  for (const char* type : {"NFC", "NFD", "NFKC", "NFKD"}) {
    EXPECT_EQ(apply(type, x_1df6_0300), x_1df6_0300) << type;  // ICU: U+0300 (230) before U+1DF6 (232)
    EXPECT_EQ(apply(type, a7f2), a7f2) << type;
    EXPECT_EQ(apply(type, x_0300_0c3c_0316), x_0300_0c3c_0316) << type;  // ICU: U+0C3C (7) first
  }
  // Around them, everything of 9.0 and before normalizes as ever: e + U+0301 composes, U+1DF6 stays.
  EXPECT_EQ(apply("NFC", "e\xcc\x81\xe1\xb7\xb6\xcc\x80"), "\xc3\xa9\xe1\xb7\xb6\xcc\x80");
  EXPECT_EQ(apply("NFD", "\xc3\xa9\xe1\xb7\xb6\xcc\x80"), "e\xcc\x81\xe1\xb7\xb6\xcc\x80");
  EXPECT_EQ(apply("NFC", "a\xcc\x96\xcc\x80\xe0\xb0\xbc\xcc\x81\xcc\x96"),  // a + U+0300 composes; U+0301
            "\xc3\xa0\xcc\x96\xe0\xb0\xbc\xcc\x96\xcc\x81");          // after U+0C3C only reorders
}

}  // namespace
}  // namespace gqa::tok
