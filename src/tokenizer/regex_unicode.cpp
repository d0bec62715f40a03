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

// The category a \p / \P escape at pattern[i] (the p or P) names, and the escape's length from the
// backslash; empty where it names no general category of one or two letters (a script, \p{^X}, ...).
std::pair<std::string, size_t> category_at(const std::string& p, size_t i) {
  if (i + 1 >= p.size()) return {};
  if (p[i + 1] != '{') {
    const char c = p[i + 1];
    return (c >= 'A' && c <= 'Z') ? std::make_pair(std::string(1, c), size_t{3}) : std::make_pair(std::string(), size_t{0});
  }
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
      if (e == 's') {
        out += in_class ? std::string(kWhiteSpace) : "[" + std::string(kWhiteSpace) + "]";
        i += 2;
        continue;
      }
      if (e == 'S' && !in_class) {
        out += "[^" + std::string(kWhiteSpace) + "]";
        i += 2;
        continue;
      }
      if (e == 'p' || (e == 'P' && !in_class)) {
        const auto [cat, len] = category_at(p, i + 1);
        if (!cat.empty()) {
          const std::string members = category_members(cat);
          if (in_class) {
            out += members;
          } else {
            out += (e == 'p' ? "[" : "[^") + members + "]";
          }
          i += len;
          continue;
        }
      }
      out.append(p, i, 2);  // any other escape, whole (\\, \[, \], \x, ...)
      i += 2;
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
    if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // [:alpha:] inside a class
      const size_t end = p.find(":]", i + 2);
      const size_t stop = end == std::string::npos ? i + 1 : end + 2;
      out.append(p, i, stop - i);
      i = stop;
      continue;
    }
    if (in_class && c == ']' && i != class_start) in_class = false;  // (a ']' first is a member)
    out += c;
    ++i;
  }
  return out;
}

}  // namespace gqa::tok
