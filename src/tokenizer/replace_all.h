// Every occurrence of `from` in `s` replaced by `to`, left to right, without overlaps (HF's Replace
// with a string pattern), for the normalizer and the decoder alike.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gqa::tok {

inline std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(s);
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  for (size_t hit = s.find(from); hit != std::string_view::npos; hit = s.find(from, pos)) {
    out.append(s.substr(pos, hit - pos)).append(to);
    pos = hit + from.size();
  }
  return out.append(s.substr(pos));
}

// The size replace_all(s, from, to) would have (saturating at SIZE_MAX), found without building
// it: the normalizer refuses a step past its growth limit before making gigabytes.
inline size_t replaced_size(std::string_view s, std::string_view from, std::string_view to) {
  if (from.empty() || to.size() <= from.size()) return s.size();
  size_t hits = 0;
  for (size_t pos = s.find(from); pos != std::string_view::npos; pos = s.find(from, pos + from.size())) ++hits;
  const size_t extra = to.size() - from.size();
  return hits > (SIZE_MAX - s.size()) / extra ? SIZE_MAX : s.size() + hits * extra;
}

}  // namespace gqa::tok
