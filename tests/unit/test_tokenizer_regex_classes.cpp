// Hugging Face's character classes in PCRE2 patterns (tokenizer/regex_unicode.h): the rewrite of
// \s, \S and \p{X}, and what the compiled Regex then matches. The fixture corpus's
// mongolian_vowel_separator and unicode16_letters_digits texts check the same against HF's ids.
#include <gtest/gtest.h>

#include <string>

#include "tokenizer/regex.h"
#include "tokenizer/regex_unicode.h"

namespace gqa::tok {
namespace {

const std::string kWs = "\\t-\\r\\x{85}\\p{Z}";

bool full_match(const std::string& pattern, const std::string& text) {
  const Regex re("^(?:" + pattern + ")$", "test");
  return !re.find_all(text).empty();
}

TEST(TokenizerRegexClasses, WhiteSpaceIsUnicodesWithoutU180E) {
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

TEST(TokenizerRegexClasses, CategoriesGainUnicode16CodePoints) {
  const std::string cjk_h = "\xf0\xb1\x8d\x90", garay_digit = "\xf0\x90\xb5\x80", a7cb = "\xea\x9f\x8b";
  EXPECT_TRUE(full_match("\\p{L}", cjk_h));
  EXPECT_TRUE(full_match("\\pL", cjk_h));
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

TEST(TokenizerRegexClasses, LeavesWhatIsNotAClassEscape) {
  for (const char* same : {"\\\\s", "\\Q\\s\\p{L}\\E", "[\\]\\[]", "[]a]", "\\p{Han}", "\\p{^L}", "\\p{L&}",
                           "[[:alpha:]]", "\\x{180E}", "a\\|b", "'s|'t"}) {
    EXPECT_EQ(hf_character_classes(same), same) << same;
  }
  EXPECT_EQ(hf_character_classes("[\\S]"), "[\\S]");  // inside a class: a class cannot subtract U+180E
  EXPECT_EQ(hf_character_classes("[]\\s]"), "[]" + kWs + "]");  // ']' first is a member: still in the class
  EXPECT_EQ(hf_character_classes("[[:space:]\\s]"), "[[:space:]" + kWs + "]");
}

TEST(TokenizerRegexClasses, EveryRewrittenShippedPatternCompiles) {
  // The GPT-2, Llama-3 and Qwen2 split patterns (pre_tokenizer.cpp's GGUF table has them too).
  for (const char* p : {"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
                        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                        "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}) {
    EXPECT_NO_THROW(Regex(p, "test")) << p;
  }
}

}  // namespace
}  // namespace gqa::tok
