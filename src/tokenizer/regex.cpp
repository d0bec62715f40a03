#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/error.h"
#include "tokenizer/regex_unicode.h"

namespace gqa::tok {
namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof(buf));
  return reinterpret_cast<const char*>(buf);
}

struct MatchData {
  explicit MatchData(const pcre2_code* code) : md(pcre2_match_data_create_from_pattern(code, nullptr)) {
    GQA_CHECK(md != nullptr, "pcre2_match_data_create_from_pattern: out of memory");
  }
  ~MatchData() { pcre2_match_data_free(md); }
  pcre2_match_data* md;
};

}  // namespace

Regex::Regex(const std::string& pattern, const std::string& where) : pattern_(pattern) {
  const auto compile = [](const std::string& text, int* err, PCRE2_SIZE* offset) {
    return pcre2_compile(reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(),
                         PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, err, offset, nullptr);
  };
  const std::string hf = hf_character_classes(pattern);
  int err = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = compile(hf, &err, &offset);
  if (code == nullptr) {  // the error as the pattern was written (its offset is into that), where it has one
    int err0 = 0;
    PCRE2_SIZE offset0 = 0;
    pcre2_code* as_written = compile(pattern, &err0, &offset0);
    GQA_CHECK(as_written != nullptr, where << ": regex does not compile at offset " << offset0 << ": "
                                           << pcre2_message(err0) << " (pattern " << pattern << ")");
    pcre2_code_free(as_written);
    GQA_FAIL(where << ": regex does not compile at offset " << offset << ": " << pcre2_message(err) << " (pattern "
                   << hf << ", as rewritten for Hugging Face's character classes from " << pattern << ")");
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional: falls back to the interpreter when JIT is missing
  code_ = code;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view text) const {
  auto* code = static_cast<pcre2_code*>(code_);
  MatchData data(code);
  std::vector<std::pair<size_t, size_t>> out;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start <= text.size()) {
    const int rc = pcre2_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, data.md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    GQA_CHECK(rc >= 0, "regex match failed: " << pcre2_message(rc) << " (pattern " << pattern_ << ")");
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.md);
    const size_t b = ov[0], e = ov[1];
    if (e == b) {  // an empty match yields no piece; step over one character
      if (b >= text.size()) break;
      start = b + 1;
      while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) ++start;
      continue;
    }
    out.emplace_back(b, e);
    start = e;
  }
  return out;
}

}  // namespace gqa::tok
