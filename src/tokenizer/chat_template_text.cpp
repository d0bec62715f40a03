// Text helpers for the native chat-template renderers, and the canonical form that recognition hashes.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "tokenizer/chat_template_detail.h"

namespace gqa::tok::chat {
namespace {

// The code points Python's str.isspace() accepts (str.strip() and Jinja's trim remove exactly these).
bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
         c == 0x3000;
}

// Decodes the UTF-8 character starting at s[i]; returns its length, or 0 when the bytes are not one.
size_t decode_utf8(std::string_view s, size_t i, char32_t* cp) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xe ? 3 : (b >> 3) == 0x1e ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  char32_t c = len == 1 ? b : b & (0x7f >> len);
  for (size_t k = 1; k < len; ++k) {
    const auto cb = static_cast<unsigned char>(s[i + k]);
    if ((cb & 0xc0) != 0x80) return 0;
    c = (c << 6) | (cb & 0x3f);
  }
  *cp = c;
  return len;
}

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_ident(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

// One lexed piece of a template: text between tags ('D') or a tag: '{' {{ }}, '%' {% %}, '#' {# #};
// 'U' a tag its end never closes (Jinja raises; the canonical form keeps it, so no variant matches).
struct Piece {
  char kind;
  std::string text;
  bool strip_before = false;  // {%- : removes whitespace at the end of the text before it
  bool strip_after = false;   // -%} : removes whitespace at the start of the text after it
  bool keep_lstrip = false;   // {%+ : turns lstrip_blocks off for this tag
  bool keep_trim = false;     // +%} / +#} : turns trim_blocks off (the newline after the tag stays)
};

// Position of `close` from j on, skipping quoted string literals inside {{ }} and {% %}.
size_t find_close(std::string_view t, size_t j, std::string_view close, bool has_strings) {
  for (size_t i = j; i < t.size(); ++i) {
    if (t.substr(i, close.size()) == close) return i;
    if (has_strings && (t[i] == '\'' || t[i] == '"')) {
      const char q = t[i];
      for (++i; i < t.size() && t[i] != q; ++i) i += t[i] == '\\' ? 1 : 0;
    }
  }
  return std::string_view::npos;
}

std::vector<Piece> lex(std::string_view t) {
  std::vector<Piece> out;
  std::string data;
  size_t i = 0;
  while (i < t.size()) {
    const bool open = t[i] == '{' && i + 1 < t.size() && (t[i + 1] == '{' || t[i + 1] == '%' || t[i + 1] == '#');
    if (!open) {
      data += t[i++];
      continue;
    }
    out.push_back({'D', std::move(data)});
    data.clear();
    Piece p{t[i + 1], {}};
    size_t j = i + 2;
    if (j < t.size() && (t[j] == '-' || t[j] == '+')) p.strip_before = t[j] == '-', p.keep_lstrip = t[j] == '+', ++j;
    const std::string_view close = p.kind == '{' ? "}}" : p.kind == '%' ? "%}" : "#}";
    size_t end = find_close(t, j, close, p.kind != '#');
    if (end == std::string_view::npos) {  // unterminated: a tag no variant has
      out.push_back({'U', std::string(t.substr(i))});
      return out;
    }
    p.text = std::string(t.substr(j, end - j));
    // -}} -%} -#} strip; +%} +#} keep the newline; +}} is no Jinja end (kept in the text: no match)
    if (!p.text.empty() && (p.text.back() == '-' || (p.text.back() == '+' && p.kind != '{'))) {
      p.strip_after = p.text.back() == '-';
      p.keep_trim = p.text.back() == '+';
      p.text.pop_back();
    }
    out.push_back(std::move(p));
    i = end + close.size();
  }
  out.push_back({'D', std::move(data)});
  return out;
}

// The text Jinja outputs for data piece k: `-` markers, trim_blocks and lstrip_blocks applied.
std::string trimmed_data(const std::vector<Piece>& ps, size_t k) {
  const std::string& s = ps[k].text;
  const Piece* prev = k > 0 ? &ps[k - 1] : nullptr;
  const Piece* next = k + 1 < ps.size() ? &ps[k + 1] : nullptr;
  size_t lo = 0, hi = s.size();
  if (next && next->strip_before) {
    while (hi > 0 && is_ascii_space(s[hi - 1])) --hi;
  } else if (next && next->kind != '{' && !next->keep_lstrip) {
    const size_t nl = s.rfind('\n');
    const size_t tail = nl == std::string::npos ? 0 : nl + 1;
    const bool line_start = nl != std::string::npos || k == 0;
    if (line_start && s.find_first_not_of(" \t", tail) == std::string::npos) hi = tail;
  }
  if (prev && prev->strip_after) {
    while (lo < s.size() && is_ascii_space(s[lo])) ++lo;
  } else if (prev && prev->kind != '{' && !prev->keep_trim && !s.empty() && s[0] == '\n') {
    lo = 1;
  }
  return lo < hi ? s.substr(lo, hi - lo) : std::string();
}

// A string literal's value (Jinja decodes Python escapes), re-quoted one canonical way.
size_t canonical_literal(std::string_view t, size_t i, std::string& out) {
  const char q = t[i];
  std::string v;
  for (++i; i < t.size() && t[i] != q; ++i) {
    if (t[i] != '\\' || i + 1 >= t.size()) {
      v += t[i];
      continue;
    }
    const char e = t[++i];
    if (e == 'n') v += '\n';
    else if (e == 't') v += '\t';
    else if (e == 'r') v += '\r';
    else if (e == '\\' || e == '\'' || e == '"') v += e;
    else v += std::string("\\") + e;
  }
  out += '\'';
  for (char c : v) {
    if (c == '\\' || c == '\'') out += '\\', out += c;
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  out += '\'';
  return i + 1;
}

// Whether a and b, written together, are one of Jinja's two-character operators (== != >= <= // **).
bool one_operator(char a, char b) {
  return (b == '=' && (a == '=' || a == '!' || a == '>' || a == '<')) || (a == b && (a == '/' || a == '*'));
}

// A tag's inside with whitespace dropped (one space kept between two identifier characters, and
// between two characters that written together are one operator: "= =" is not "==").
std::string canonical_tag(std::string_view t) {
  std::string out;
  bool space = false;
  for (size_t i = 0; i < t.size();) {
    if (is_ascii_space(t[i])) {
      space = true, ++i;
    } else if (t[i] == '\'' || t[i] == '"') {
      i = canonical_literal(t, i, out), space = false;
    } else {
      if (space && !out.empty() && ((is_ident(out.back()) && is_ident(t[i])) || one_operator(out.back(), t[i]))) {
        out += ' ';
      }
      out += t[i++], space = false;
    }
  }
  return out;
}

}  // namespace

std::string canonical_template(std::string_view text) {
  std::string src;
  for (size_t i = 0; i < text.size(); ++i) {  // Jinja normalises newlines to \n
    if (text[i] == '\r') {
      src += '\n';
      i += (i + 1 < text.size() && text[i + 1] == '\n') ? 1 : 0;
    } else {
      src += text[i];
    }
  }
  if (!src.empty() && src.back() == '\n') src.pop_back();  // keep_trailing_newline=False
  const std::vector<Piece> ps = lex(src);
  std::string out, data;
  for (size_t k = 0; k < ps.size(); ++k) {
    if (ps[k].kind == 'D') data += trimmed_data(ps, k);
    if (ps[k].kind == 'D' || ps[k].kind == '#') continue;  // (a 'U' is kept whole below)
    if (!data.empty()) out += "\x01D" + data + "\x02", data.clear();
    out += std::string("\x01") + ps[k].kind + canonical_tag(ps[k].text) + "\x02";
  }
  if (!data.empty()) out += "\x01D" + data + "\x02";
  return out;
}

std::string py_strip(std::string_view s) {
  size_t lo = 0, hi = s.size();
  char32_t cp = 0;
  while (lo < hi) {
    const size_t len = decode_utf8(s, lo, &cp);
    if (len == 0 || !is_python_space(cp)) break;
    lo += len;
  }
  while (hi > lo) {
    size_t start = hi - 1;
    while (start > lo && hi - start < 4 && (static_cast<unsigned char>(s[start]) & 0xc0) == 0x80) --start;
    const size_t len = decode_utf8(s, start, &cp);
    if (len != hi - start || !is_python_space(cp)) break;
    hi = start;
  }
  return std::string(s.substr(lo, hi - lo));
}

std::string json_quote(std::string_view s) {
  static const char* kHex = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c == '\b') out += "\\b";
    else if (c == '\f') out += "\\f";
    else if (c < 0x20) out += std::string("\\u00") + kHex[c >> 4] + kHex[c & 0xf];
    else out += ch;
  }
  return out + "\"";
}

void raise_template_error(const char* variant, const std::string& message) {
  throw Error(std::string("chat template ") + variant + ": " + message);
}

}  // namespace gqa::tok::chat
