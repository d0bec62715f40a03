// Command-line checks shared by the launch tools (CLI11 validators with messages a user can read:
// CLI11's PositiveNumber / NonNegativeNumber print the range's upper end, DBL_MAX, in 309 digits).
#pragma once

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <regex>
#include <string>

namespace gqa {

// CLI11 reads "010" as octal 8 and "0x10" as 16: integers must be written in decimal. The message
// for one that is not ("" when it is, as far as a leading 0 goes).
inline std::string leading_zero(const std::string& value) {
  const size_t digits = value.find_first_not_of("+- ");
  if (digits == std::string::npos || value[digits] != '0' || digits + 1 >= value.size()) return {};
  return "'" + value + "': write it in decimal, without a leading 0";
}

// An integer option in [min, max]: "must be at least 1, got 0", "must be at most 2147483647, got
// ...", written in decimal (leading_zero).
inline CLI::Validator at_least(long long min, long long max = LLONG_MAX) {
  return CLI::Validator(
      [min, max](std::string& value) -> std::string {
        if (std::string why = leading_zero(value); !why.empty()) return why;
        char* end = nullptr;
        errno = 0;
        const long long v = std::strtoll(value.c_str(), &end, 10);
        if (end == value.c_str() || *end != '\0') return "'" + value + "' is not an integer";
        if (v < min) return "must be at least " + std::to_string(min) + ", got " + value;
        if (errno == ERANGE || v > max) return "must be at most " + std::to_string(max) + ", got " + value;
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
        if (std::string why = leading_zero(value); !why.empty()) return why;
        errno = 0;
        (void)std::strtoull(value.c_str(), nullptr, 10);
        if (errno == ERANGE) return "'" + value + "' is past 18446744073709551615";
        return {};
      },
      "UINT64");
}

// A float option whose text must be a number a float holds: "1e39" would become inf, and the
// option's own check (the sampler's) would then quote "inf", not what the user wrote.
inline CLI::Validator float_range() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(value.c_str(), &end);
        if (end == value.c_str() || *end != '\0') return "'" + value + "' is not a number";
        const bool out_of_range = errno == ERANGE;
        if (!std::isfinite(v) && !out_of_range) return {};  // ("inf", "nan": the option's own check says)
        const float f = static_cast<float>(v);
        if (std::isinf(f)) return "'" + value + "' is past a float's range (about 3.4e38)";
        if (f == 0.0f && (v != 0 || out_of_range)) return "'" + value + "' is below a float's smallest (about 1.4e-45)";
        return {};
      },
      "");
}

// CLI11's parse errors as the tool's other errors read: "TOOL: " first, and an option given twice
// said so (CLI11: "At Most 1 required but received 2", where nothing was required).
inline void name_parse_errors(CLI::App& app, const std::string& tool) {
  app.failure_message([tool](const CLI::App* a, const CLI::Error& err) {
    static const std::regex twice("At Most 1 required but received ([0-9]+)");
    return tool + ": " + std::regex_replace(CLI::FailureMessage::simple(a, err), twice, "given $1 times; give it once");
  });
}

// A path option given as "": refused (a usage error) instead of read as "not given", which would
// quietly skip what the flag asks for (--dump-logits "" wrote no file) or take stdin for the file.
inline CLI::Validator non_empty_path() {
  return CLI::Validator(
      [](std::string& value) -> std::string { return value.empty() ? "needs a path, got an empty string" : ""; },
      "");
}

}  // namespace gqa
