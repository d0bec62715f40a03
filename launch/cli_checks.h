// Command-line checks shared by the launch tools (CLI11 validators with messages a user can read:
// CLI11's PositiveNumber / NonNegativeNumber print the range's upper end, DBL_MAX, in 309 digits),
// and their help text's wrapping.
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

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

// What a size's text is: "32768" or "32K" (also "32k": x 1024), a number >= 0 (kSize); digits past
// LLONG_MAX once multiplied (kTooLarge); anything else (empty, not digits, a leading 0 before other
// digits, which could be meant as octal) kNotASize. The benchmarks' lengths and lists.
enum class SizeText { kSize, kTooLarge, kNotASize };
inline SizeText parse_size(std::string text, long long& out) {
  long long mult = 1;
  if (!text.empty() && (text.back() == 'K' || text.back() == 'k')) {
    mult = 1024;
    text.pop_back();
  }
  if (text.empty() || (text.size() > 1 && text[0] == '0') ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return SizeText::kNotASize;
  }
  if (text.size() > 18) return SizeText::kTooLarge;  // (18 digits stay below LLONG_MAX)
  const long long v = std::stoll(text);
  if (v > LLONG_MAX / mult) return SizeText::kTooLarge;
  out = v * mult;
  return SizeText::kSize;
}

// "a,b,c" -> {"a", "b", "c"} (an empty text is one empty item).
inline std::vector<std::string> split_on_commas(const std::string& text) {
  std::vector<std::string> items;
  for (size_t i = 0; i <= text.size();) {
    const size_t j = std::min(text.find(',', i), text.size());
    items.push_back(text.substr(i, j - i));
    i = j + 1;
  }
  return items;
}

// An integer option in [min, max] that may be written with a K suffix (parse_size); the value is
// rewritten to its digits for CLI11's conversion.
inline CLI::Validator size_in(long long min, long long max = LLONG_MAX) {
  return CLI::Validator(
      [min, max](std::string& value) -> std::string {
        if (value.empty()) return "needs a whole number, got ''";
        long long v = 0;
        const SizeText read = parse_size(value, v);
        if (read == SizeText::kNotASize) {
          if (std::string why = leading_zero(value); !why.empty()) return why;
          return "'" + value + "' is not a whole number (digits, optionally with a K suffix: 32768 or 32K)";
        }
        if (read == SizeText::kTooLarge || v > max) return "must be at most " + std::to_string(max) + ", got " + value;
        if (v < min) return "must be at least " + std::to_string(min) + ", got " + value;
        value = std::to_string(v);
        return {};
      },
      "");
}

// A comma-separated list of positive sizes ("1K,8K,32768"), each as parse_size reads it; the value
// is rewritten to their digits ("1024,8192,32768"), which split_sizes reads.
inline CLI::Validator size_list() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        std::string digits;
        for (const std::string& item : split_on_commas(value)) {
          long long v = 0;
          if (parse_size(item, v) != SizeText::kSize || v <= 0) {
            return "'" + value + "' is not a list of positive sizes (e.g. 1K,8K,32768)";
          }
          digits += (digits.empty() ? "" : ",") + std::to_string(v);
        }
        value = digits;
        return {};
      },
      "");
}

// What size_list left: "1024,8192" -> {1024, 8192}.
inline std::vector<int64_t> split_sizes(const std::string& digits) {
  std::vector<int64_t> out;
  for (const std::string& item : split_on_commas(digits)) out.push_back(std::stoll(item));
  return out;
}

// A positive, finite number (seconds, microseconds): "needs a positive number, got '0'".
inline CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(value.c_str(), &end);
        if (end == value.c_str() || *end != '\0' || errno == ERANGE || !std::isfinite(v) || v <= 0) {
          return "needs a positive number, got '" + value + "'";
        }
        return {};
      },
      "");
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

// Parses argv into `app` (named for its tool): -1 to go on, else the exit status: 0 after --help
// or --version (printed), 2 for a usage error (said on stderr as "TOOL: ...", with a pointer to
// --help).
inline int parse_or_exit_status(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    name_parse_errors(app, app.get_name());
    return app.exit(e) == 0 ? 0 : 2;
  }
  return -1;
}

// The benchmarks' common options: --version ("TOOL VERSION"), and an option given again overriding
// the earlier one (gpu-check appends GQA_BENCH_ARGS after gqa-bench's own flags).
inline void bench_options(CLI::App& app, const std::string& version) {
  app.set_version_flag("--version", app.get_name() + " " + version, "print the version, then exit");
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

// A path option given as "": refused (a usage error) instead of read as "not given", which would
// quietly skip what the flag asks for (--dump-logits "" wrote no file) or take stdin for the file.
inline CLI::Validator non_empty_path() {
  return CLI::Validator(
      [](std::string& value) -> std::string { return value.empty() ? "needs a path, got an empty string" : ""; },
      "");
}

// `text` as lines of at most `width` characters, broken at spaces (a longer word stays whole).
inline std::string wrap_text(const std::string& text, size_t width) {
  std::string out, line, word;
  std::istringstream words(text);
  while (words >> word) {
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return out + line;
}

}  // namespace gqa
