// Limits for the JSON files gqa reads (config.json, safetensors headers and indexes,
// tokenizer.json, tokenizer_config.json): a nesting limit (nlohmann's parser accepts any depth, and
// the recursive code that then reads, copies or prints a value, its own dump() included, can
// exhaust the stack on a small file of nested brackets: SIGSEGV, or gigabytes of copies), and a cut
// excerpt of a value for messages (a bad field may hold most of a 100 MB header).
// Header only: for the libraries that link nlohmann_json (gqa_model, gqa_tokenizer, launch/); the
// file reader is gqa_core's (core/regular_file.h).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "core/error.h"
#include "core/regular_file.h"

namespace gqa {

// Far above any real file's nesting (tokenizer.json's normalizer sequences: under 10).
constexpr int kMaxJsonDepth = 64;

// The parser callback for nlohmann::json::parse(text, json_depth_limit(origin)): throws gqa::Error
// naming `origin` when an array or object opens deeper than kMaxJsonDepth; keeps every value.
inline nlohmann::json::parser_callback_t json_depth_limit(const std::string& origin) {
  return [origin](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    if ((event == nlohmann::json::parse_event_t::object_start || event == nlohmann::json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth) {
      throw Error(origin + ": JSON nested more than " + std::to_string(kMaxJsonDepth) + " levels deep");
    }
    return true;
  };
}

// `text` (the contents of `origin`) parsed with the nesting limit; gqa::Error "malformed JSON in
// <origin>: ..." for a syntax error or a number past a double's range (nlohmann's out_of_range).
inline nlohmann::json parse_json(const std::string& text, const std::string& origin) {
  try {
    return nlohmann::json::parse(text, json_depth_limit(origin));
  } catch (const nlohmann::json::exception& e) {
    throw Error("malformed JSON in " + origin + ": " + e.what());
  }
}

// The JSON file at `path` (a regular file of at most kMaxJsonFileBytes; `what` names it in those
// messages, e.g. "tokenizer file"), parsed as parse_json does.
inline nlohmann::json read_json_file(const std::string& path, const std::string& what) {
  return parse_json(read_json_file_text(path, what), path);
}

// A user's value for a message: its JSON text (invalid UTF-8 replaced, so this never throws) cut to
// 80 bytes at a UTF-8 character boundary, with its type and full length when cut.
inline std::string json_brief(const nlohmann::json& v) {
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() <= 80) return s;
  size_t cut = 80;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "... (" + v.type_name() + ", " + std::to_string(s.size()) + " characters)";
}

}  // namespace gqa
