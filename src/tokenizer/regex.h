// A compiled PCRE2 pattern in UTF + UCP mode (\p{L}, \s, ... follow Unicode, with Hugging Face's
// \s and Unicode 16.0 categories: regex_unicode.h), JIT-compiled when available.
// Pre-tokenizer regexes (GPT-2, Llama-3, Qwen2) and regex normalizers use it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gqa::tok {

class Regex {
 public:
  // `where` names the file/field the pattern came from, for the error when it does not compile.
  Regex(const std::string& pattern, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Non-overlapping matches, left to right, as [begin, end) byte offsets. `text` must be valid UTF-8.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
};

}  // namespace gqa::tok
