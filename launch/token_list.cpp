#include "launch/token_list.h"

#include <charconv>
#include <climits>

#include "core/error.h"

namespace gqa {
namespace {

// At most the first 40 bytes of `item` as a message may quote it: printable ASCII as it is, any
// other byte (a NUL, a control, a byte-order mark, binary) as \xNN, so the message is whole and
// writes nothing but text to a terminal.
std::string quoted(const std::string& item) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < item.size() && i < 40; ++i) {
    const auto c = static_cast<unsigned char>(item[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += std::string("\\x") + kHex[c >> 4] + kHex[c & 15];
    }
  }
  return "'" + out + (item.size() > 40 ? "...'" : "'");
}

// One id: a decimal int32 >= 0, nothing else (no vocabulary has a negative id: the flags alone rule
// it out); `where` and `expected` make the message.
int32_t parse_id(const std::string& item, const std::string& where, const char* expected) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
  const bool digits = !item.empty() && item.find_first_not_of("0123456789") == std::string::npos;
  GQA_CHECK(!(digits && (ec == std::errc::result_out_of_range || v > INT32_MAX)),
            where << ": " << quoted(item) << " is too large for a token id (at most " << INT32_MAX << ")");
  // (digits only: from_chars alone takes "-0" for 0)
  GQA_CHECK(digits && ec == std::errc() && p == item.data() + item.size() && v <= INT32_MAX,
            where << ": " << quoted(item) << " is not a token id (" << expected << "; ids are whole numbers from 0)");
  return static_cast<int32_t>(v);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

std::vector<int32_t> parse_token_list(const std::string& text) {
  GQA_CHECK(text.find_first_not_of(' ') != std::string::npos, "--prompt-tokens is empty: give at least one id");
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    ids.push_back(parse_id(item, "--prompt-tokens", "expected e.g. 1,2,3"));
    pos = end + 1;
  }
  return ids;
}

std::vector<int32_t> parse_token_text(const std::string& text, const std::string& origin) {
  constexpr const char* kExpected = "expected ids separated by commas or white space";
  std::vector<int32_t> ids;
  bool after_comma = false;  // an id must come next
  size_t i = 0;
  for (;;) {
    while (i < text.size() && is_space(text[i])) ++i;
    if (i == text.size()) break;
    if (text[i] == ',') {
      GQA_CHECK(!ids.empty() && !after_comma, origin << ": an empty item before the comma at byte " << i << " ("
                                                     << kExpected << ")");
      after_comma = true;
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && !is_space(text[j]) && text[j] != ',') ++j;
    ids.push_back(parse_id(text.substr(i, j - i), origin, kExpected));
    after_comma = false;
    i = j;
  }
  GQA_CHECK(!after_comma, origin << ": a comma ends the ids (" << kExpected << ")");
  GQA_CHECK(!ids.empty(), origin << " holds no token ids (" << kExpected << ")");
  return ids;
}

}  // namespace gqa
