#include "model/generation_config.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_limits.h"
#include "core/json_token_ids.h"

namespace gqa {

std::vector<int64_t> read_generation_eos_ids(const std::string& model_dir, int64_t vocab_size) {
  const std::string file = (std::filesystem::path(model_dir) / "generation_config.json").string();
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return {};
  const nlohmann::json j = read_json_file(file, "generation config");
  GQA_CHECK(j.is_object(), file << ": expected a JSON object, got " << json_brief(j));
  const auto it = j.find("eos_token_id");
  if (it == j.end()) return {};
  const std::vector<int32_t> ids = json_token_id_list(*it, vocab_size, file, "eos_token_id", "config.json's vocab_size");
  return {ids.begin(), ids.end()};
}

}  // namespace gqa
