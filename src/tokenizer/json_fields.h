// Reading the fields of tokenizer.json and its companion files: every refusal is a gqa::Error naming the
// file, the field and the bad value (nlohmann's own exceptions name none of them).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "core/error.h"
#include "core/json_limits.h"
#include "core/json_token_ids.h"  // json_token_id, json_token_id_list (namespace gqa)

namespace gqa::tok {

// obj[key] by reference, or null when obj is not an object or has no such key: value(key, json()) would copy
// the subtree, and at() throws a message without the file's name.
inline const nlohmann::json& json_field(const nlohmann::json& obj, const char* key) {
  static const nlohmann::json kNull;
  if (!obj.is_object()) return kNull;
  const auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

// obj[key], which must be an array: iterating a null, a string or an object would silently give nothing or
// the wrong things. `field` names it for the message ("model.merges", "decoder Sequence.decoders").
inline const nlohmann::json& json_array_field(const nlohmann::json& obj, const char* key, const std::string& where,
                                              const std::string& field) {
  const nlohmann::json& v = json_field(obj, key);
  const bool absent = !obj.is_object() || !obj.contains(key);
  GQA_CHECK(v.is_array(), where << ": " << field << " must be an array, got " << (absent ? "nothing" : json_brief(v)));
  return v;
}

}  // namespace gqa::tok
