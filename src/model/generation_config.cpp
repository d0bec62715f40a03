#include "model/generation_config.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_limits.h"

namespace gqa {

std::vector<int64_t> read_generation_eos_ids(const std::string& model_dir, int64_t vocab_size) {
  const std::string file = (std::filesystem::path(model_dir) / "generation_config.json").string();
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return {};
  const nlohmann::json j = read_json_file(file, "generation config");
  GQA_CHECK(j.is_object(), file << ": expected a JSON object, got " << json_brief(j));
  const auto it = j.find("eos_token_id");
  if (it == j.end() || it->is_null()) return {};
  const nlohmann::json list = it->is_array() ? *it : nlohmann::json::array({*it});
  std::vector<int64_t> ids;
  for (const nlohmann::json& v : list) {
    GQA_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < vocab_size,
              file << ": eos_token_id must be a token id in [0, " << vocab_size << ") or a list of them, got "
                   << json_brief(*it));
    ids.push_back(v.get<int64_t>());
  }
  return ids;
}

}  // namespace gqa
