#include "tokenizer/regex_unicode.h"

#include <cstdint>
#include <cstdio>
#include <map>
#include <utility>
#include <vector>

namespace gqa::tok {
namespace {

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;

const std::map<std::string, Ranges>& additions() {
  static const std::map<std::string, Ranges> table = {
#include "tokenizer/unicode_additions.inc"
  };
  return table;
}

constexpr const char* kWhiteSpace = "\\t-\\r\\x{85}\\p{Z}";  // Unicode's White_Space, as class members

// The class members for category `cat` as PCRE2 writes them, with the code points it lacks.
std::string category_members(const std::string& cat) {
  std::string out = "\\p{" + cat + "}";
  const auto it = additions().find(cat);
  if (it == additions().end()) return out;
  char buf[40];
  for (const auto& [a, b] : it->second) {
    if (a == b) {
      std::snprintf(buf, sizeof(buf), "\\x{%X}", a);
    } else {
      std::snprintf(buf, sizeof(buf), "\\x{%X}-\\x{%X}", a, b);
    }
    out += buf;
  }
  return out;
}

// The category a \p{X} / \P{X} escape at pattern[i] (the p or P) names, and the escape's length from
// the backslash; empty where it names no general category of one or two letters (a script, \p{^X}, ...).
std::pair<std::string, size_t> category_at(const std::string& p, size_t i) {
  if (i + 1 >= p.size() || p[i + 1] != '{') return {};
  const size_t close = p.find('}', i + 2);
  if (close == std::string::npos) return {};
  const std::string name = p.substr(i + 2, close - i - 2);
  const bool general = (name.size() == 1 || name.size() == 2) && name[0] >= 'A' && name[0] <= 'Z' &&
                       (name.size() == 1 || (name[1] >= 'a' && name[1] <= 'z'));
  if (!general) return {};
  return {name, close - i + 2};
}

}  // namespace

std::string hf_character_classes(const std::string& p) {
  std::string out;
  out.reserve(p.size());
  bool in_class = false;
  size_t class_start = 0;  // where the class's members begin (after '[' or "[^")
  // Members written bare inside a class, in brackets outside it (negated for the upper-case escape).
  const auto put = [&](const std::string& members, bool negated) {
    out += in_class ? members : (negated ? "[^" : "[") + members + "]";
  };
  for (size_t i = 0; i < p.size();) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[i + 1];
      if (e == 'Q') {  // \Q...\E: literal text, copied as it is
        const size_t end = p.find("\\E", i + 2);
        const size_t stop = end == std::string::npos ? p.size() : end + 2;
        out.append(p, i, stop - i);
        i = stop;
        continue;
      }
      if (e == 'c' && i + 2 < p.size()) {  // \cX: a control character (\c[ is ESC, not a class)
        out.append(p, i, 3);
        i += 3;
        continue;
      }
      if (e == 's' || (e == 'S' && !in_class)) {
        put(kWhiteSpace, e == 'S');
        i += 2;
        continue;
      }
      if (e == 'd' || (e == 'D' && !in_class)) {  // Oniguruma's \d: Unicode's Nd
        put(category_members("Nd"), e == 'D');
        i += 2;
        continue;
      }
      if (e == 'h' || (e == 'H' && !in_class)) {  // Oniguruma's \h: a hexadecimal digit (PCRE2's: a space)
        put("0-9a-fA-F", e == 'H');
        i += 2;
        continue;
      }
      if ((e == 'p' || e == 'P') && (i + 2 >= p.size() || p[i + 2] != '{')) {  // \pL: Oniguruma reads "pL"
        out += e;
        i += 2;
        continue;
      }
      if (e == 'p' || (e == 'P' && !in_class)) {
        const auto [cat, len] = category_at(p, i + 1);
        if (!cat.empty()) {
          put(category_members(cat), e == 'P');
          i += len;
          continue;
        }
      }
      out.append(p, i, 2);  // any other escape, whole (\\, \[, \], \x, ...)
      i += 2;
      continue;
    }
    if (!in_class && c == '(' && p.compare(i, 3, "(?#") == 0) {  // a comment: copied to its ')'
      const size_t end = p.find(')', i + 3);
      const size_t stop = end == std::string::npos ? p.size() : end + 1;
      out.append(p, i, stop - i);
      i = stop;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      ++i;
      if (i < p.size() && p[i] == '^') out += p[i++];
      class_start = i;
      continue;
    }
    if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // [:alpha:] / [:^alpha:] in a class
      size_t j = i + 2 + (i + 2 < p.size() && p[i + 2] == '^' ? 1 : 0);
      const size_t name = j;
      while (j < p.size() && p[j] >= 'a' && p[j] <= 'z') ++j;
      if (j > name && p.compare(j, 2, ":]") == 0) {
        out.append(p, i, j + 2 - i);
        i = j + 2;
        continue;
      }
    }
    if (in_class && c == ']' && i != class_start) in_class = false;  // (a ']' first is a member)
    out += c;
    ++i;
  }
  // A class that never closed: a pattern read otherwise than PCRE2 will; PCRE2's own reading of it
  // (and its error, where it has one) rather than a rewrite that may match something else.
  return in_class ? p : out;
}

}  // namespace gqa::tok
