#include "tokenizer/added_tokens.h"

#include <algorithm>

#include "tokenizer/utf8.h"

namespace gqa::tok {
namespace {

// The code point that ends s[0, end) / starts s[begin, ...); 0 at the edges.
char32_t cp_before(std::string_view s, size_t end) {
  if (end == 0) return 0;
  size_t b = end - 1;
  while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  const size_t n = utf8_char_len(s, b);
  return n == end - b ? utf8_decode_at(s, b, n) : 0xFFFD;
}

char32_t cp_at(std::string_view s, size_t begin) {
  if (begin >= s.size()) return 0;
  const size_t n = utf8_char_len(s, begin);
  return n ? utf8_decode_at(s, begin, n) : 0xFFFD;
}

// Rust's char::is_alphanumeric || '_' as HF's single_word check uses it; ASCII-exact, Unicode approximated
// by "not whitespace and not ASCII punctuation" (single_word tokens are rare; none in Llama/Qwen/Mistral).
bool is_word_char(char32_t c) {
  if (c == 0) return false;
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return !is_unicode_whitespace(c);
}

}  // namespace

void AddedTokens::add(AddedToken t) {
  for (AddedToken& old : tokens_) {
    if (old.content == t.content) {
      old = std::move(t);
      return;
    }
  }
  tokens_.push_back(std::move(t));
}

const AddedToken* AddedTokens::find_id(int32_t id) const {
  for (const AddedToken& t : tokens_) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

bool AddedTokens::has_normalized() const {
  return std::any_of(tokens_.begin(), tokens_.end(), [](const AddedToken& t) { return t.normalized; });
}

std::vector<Segment> AddedTokens::split(std::string_view text, bool normalized) const {
  std::vector<const AddedToken*> active;
  for (const AddedToken& t : tokens_) {
    if (t.normalized == normalized && !t.content.empty()) active.push_back(&t);
  }
  std::vector<size_t> next(active.size(), 0);  // next occurrence of each token at or after the cursor
  for (size_t k = 0; k < active.size(); ++k) next[k] = text.find(active[k]->content);

  std::vector<Segment> out;
  size_t cursor = 0, emitted = 0;  // search position; end of the last emitted segment
  while (true) {
    const AddedToken* best = nullptr;
    size_t best_pos = std::string_view::npos;
    for (size_t k = 0; k < active.size(); ++k) {
      if (next[k] != std::string_view::npos && next[k] < cursor) next[k] = text.find(active[k]->content, cursor);
      if (next[k] == std::string_view::npos) continue;
      if (next[k] < best_pos || (next[k] == best_pos && active[k]->content.size() > best->content.size())) {
        best = active[k];
        best_pos = next[k];
      }
    }
    if (best == nullptr) break;
    size_t b = best_pos, e = best_pos + best->content.size();
    cursor = e;  // like aho-corasick's non-overlapping iteration, a rejected match is skipped whole
    if (best->single_word && (is_word_char(cp_before(text, b)) || is_word_char(cp_at(text, e)))) continue;
    if (best->lstrip) {
      while (b > emitted && is_unicode_whitespace(cp_before(text, b))) {
        do --b;
        while (b > emitted && (static_cast<unsigned char>(text[b]) & 0xC0) == 0x80);
      }
    }
    if (best->rstrip) {
      while (e < text.size() && is_unicode_whitespace(cp_at(text, e))) e += utf8_char_len(text, e);
      cursor = e;
    }
    if (b > emitted) out.push_back({text.substr(emitted, b - emitted), -1, emitted});
    out.push_back({text.substr(b, e - b), best->id, b});
    emitted = e;
  }
  if (emitted < text.size()) out.push_back({text.substr(emitted), -1, emitted});
  return out;
}

}  // namespace gqa::tok
