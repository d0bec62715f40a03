// Token ids read from the JSON files beside a checkpoint (config.json, generation_config.json,
// tokenizer.json and its companions). One reader for all of them, so that the model's config, its
// generation config and the tokenizer refuse the same bad ids with the same message.
// Header only, like core/json_limits.h: for the libraries that link nlohmann_json.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/json_limits.h"

namespace gqa {

// A token id: an integer in [0, end). get<int32_t>() would wrap 2^32 + 1 to 1 and truncate 5.7 to
// 5, and a negative id turns a special token into text. `where` names the file, `field` the key,
// `limit` what sets `end` (for the message).
inline int32_t json_token_id(const nlohmann::json& v, int64_t end, const std::string& where, const std::string& field,
                             const std::string& limit = "") {
  end = std::min<int64_t>(end, int64_t{INT32_MAX} + 1);  // (ids are int32 wherever they are used)
  bool ok = false;
  if (v.is_number_unsigned()) ok = v.get<uint64_t>() < static_cast<uint64_t>(end);
  else if (v.is_number_integer()) ok = v.get<int64_t>() >= 0 && v.get<int64_t>() < end;
  GQA_CHECK(ok, where << ": " << field << " = " << json_brief(v) << " is not a token id (an integer from 0 to "
                      << end - 1 << (limit.empty() ? "" : ", " + limit) << ")");
  return static_cast<int32_t>(v.get<int64_t>());
}

// An id or a list of ids, as transformers writes eos_token_id: 2 | [2, 32000] | null. Null gives
// none; each id goes through json_token_id ("field[k]" names a list's entry).
inline std::vector<int32_t> json_token_id_list(const nlohmann::json& v, int64_t end, const std::string& where,
                                               const std::string& field, const std::string& limit = "") {
  std::vector<int32_t> ids;
  if (v.is_null()) return ids;
  if (!v.is_array()) {
    ids.push_back(json_token_id(v, end, where, field, limit));
    return ids;
  }
  for (size_t k = 0; k < v.size(); ++k) {
    ids.push_back(json_token_id(v[k], end, where, field + "[" + std::to_string(k) + "]", limit));
  }
  return ids;
}

}  // namespace gqa
