// A nesting limit for the JSON files gqa reads (config.json, safetensors headers and indexes,
// tokenizer.json, tokenizer_config.json): nlohmann's parser accepts any depth, and the recursive
// code that then reads, copies or prints a value (its own dump() included) can exhaust the stack
// on a small file of nested brackets (tens of thousands deep: SIGSEGV, or gigabytes of copies).
// Header only: for the libraries that link nlohmann_json (gqa_model, gqa_tokenizer, launch/).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "core/error.h"

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

}  // namespace gqa
