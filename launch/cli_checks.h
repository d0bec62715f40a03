// Command-line checks shared by the launch tools (CLI11 validators with messages a user can read:
// CLI11's PositiveNumber / NonNegativeNumber print the range's upper end, DBL_MAX, in 309 digits).
#pragma once

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace gqa {

// An integer option of at least `min`: "must be at least 1, got 0".
inline CLI::Validator at_least(long long min) {
  return CLI::Validator(
      [min](std::string& value) -> std::string {
        char* end = nullptr;
        const long long v = std::strtoll(value.c_str(), &end, 10);
        if (end == value.c_str() || *end != '\0') return "'" + value + "' is not an integer";
        if (v < min) return "must be at least " + std::to_string(min) + ", got " + value;
        return {};
      },
      "INT>=" + std::to_string(min));
}

// An unsigned 64-bit integer option: digits only and in range (CLI11 alone takes "-1" as 2^64 - 1
// and clamps a larger number to it).
inline CLI::Validator unsigned_64() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos) {
          return "'" + value + "' is not an unsigned integer";
        }
        errno = 0;
        (void)std::strtoull(value.c_str(), nullptr, 10);
        if (errno == ERANGE) return "'" + value + "' is past 18446744073709551615";
        return {};
      },
      "UINT64");
}

}  // namespace gqa
