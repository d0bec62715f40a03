#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace gqa::tok {
namespace {

// Length of the prefix of s[from..] that ends on a character boundary: everything except an incomplete
// (but so far well-formed) character at the very end. Invalid bytes count as complete (they become U+FFFD).
size_t complete_prefix(std::string_view s, size_t from) {
  size_t i = from;
  while (i < s.size()) {
    if (utf8_incomplete_tail(s, i) > 0) return i;
    const size_t n = utf8_char_len(s, i);
    i += n ? n : 1;  // a valid character, or one invalid byte (repair_utf8 replaces it)
  }
  return i;
}

}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool skip_special, std::span<const int32_t> context)
    : tok_(&tok), skip_special_(skip_special) {
  for (auto it = context.rbegin(); it != context.rend(); ++it) {
    if (skip_special_ && tok.is_special(*it)) continue;
    window_.push_back(*it);
    emitted_ = tok_->decode_bytes(window_, skip_special_).size();
    break;
  }
}

std::string StreamDecoder::push(int32_t id) {
  if (skip_special_ && tok_->is_special(id)) {
    tok_->token_text(id);  // still rejects an id outside the vocabulary
    return {};
  }
  window_.push_back(id);
  const std::string bytes = tok_->decode_bytes(window_, skip_special_);
  if (bytes.size() <= emitted_) return {};
  // Invalid UTF-8 is repaired piecewise; a split at a character boundary keeps repair_utf8 consistent.
  const size_t end = complete_prefix(bytes, emitted_);
  std::string out = repair_utf8(std::string_view(bytes).substr(emitted_, end - emitted_));
  emitted_ = end;
  if (end == bytes.size()) {
    // Everything is out: keep only the last token, whose text gives the next one its leading space.
    window_.erase(window_.begin(), window_.end() - 1);
    emitted_ = tok_->decode_bytes(window_, skip_special_).size();
  }
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  if (!window_.empty()) {
    const std::string bytes = tok_->decode_bytes(window_, skip_special_);
    if (bytes.size() > emitted_) out = repair_utf8(std::string_view(bytes).substr(emitted_));
  }
  window_.clear();
  emitted_ = 0;
  return out;
}

}  // namespace gqa::tok
