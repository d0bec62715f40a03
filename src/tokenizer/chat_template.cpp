// ChatTemplate: loading from tokenizer_config.json, recognition by fingerprint, dispatch to a renderer.
#include "tokenizer/chat_template.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/hash.h"
#include "core/json_limits.h"
#include "core/regular_file.h"
#include "tokenizer/chat_template_detail.h"
#include "tokenizer/json_fields.h"

namespace gqa::tok {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Fingerprints of the real templates (tests/fixtures/chat/templates.py names each source). To add a
// variant: write its renderer, add a row, and let test_chat_template print the fingerprint to paste here.
const ChatTemplateVariant kVariants[] = {
    {"llama2", "llama2", 0xaef4347f2a06bf99ull, chat::render_llama2},
    {"llama3", "llama3", 0x70d0c018b339eb94ull, chat::render_llama3},
    {"llama3-initial", "llama3", 0xfb7c819ab4db102eull, chat::render_llama3_initial},
    {"llama3.1", "llama3", 0xdb9fd38ad80c4241ull, chat::render_llama3_1},
    {"mistral-v0.1", "mistral", 0xdb5477669f5e14b0ull, chat::render_mistral_v01},
    {"mistral-v0.2-legacy", "mistral", 0x0b03b0acfa91e539ull, chat::render_mistral_v02_legacy},
    {"mistral-v0.2", "mistral", 0xa95a72de56357c34ull, chat::render_mistral_v02},
    {"mistral-v0.3", "mistral", 0x0e477f6fc76e6e89ull, chat::render_mistral_v03},
    {"chatml", "chatml", 0x4a39cd5fc1d7c098ull, chat::render_chatml},
    {"qwen2", "chatml", 0x59ad3e15ffd73b0bull, chat::render_qwen2},
};

// The family a template's structural markers point to, for the refusal message only.
std::string guess_family(const std::string& t) {
  if (t.find("<|start_header_id|>") != std::string::npos) return "a Llama-3 template";
  if (t.find("<|im_start|>") != std::string::npos) return "a ChatML template";
  if (t.find("[INST]") != std::string::npos && t.find("<<SYS>>") != std::string::npos) return "a Llama-2 template";
  if (t.find("[INST]") != std::string::npos) return "a Mistral [INST] template";
  return "none of the supported families";
}

std::string supported_list() {
  std::string s;
  for (const auto& v : kVariants) s += (s.empty() ? "" : ", ") + std::string(v.id) + " (" + v.family + ")";
  return s;
}

const ChatTemplateVariant* recognise(const std::string& text) {
  const uint64_t fp = fnv1a64(chat::canonical_template(text));
  for (const auto& v : kVariants) {
    if (v.fingerprint == fp) return &v;
  }
  char hex[32];
  std::snprintf(hex, sizeof hex, "0x%016llx", static_cast<unsigned long long>(fp));
  throw Error("unsupported chat_template (fingerprint " + std::string(hex) + "): it looks like " +
              guess_family(text) + " but is not one of the templates gqa renders natively (there is no Jinja "
              "engine). Supported: " + supported_list() + ".");
}

std::string read_file(const fs::path& p) { return read_json_file_text(p.string(), "tokenizer file"); }

// "bos_token": "<s>" | {"content": "<s>", ...} | null | absent.
std::string special_token(const json& config, const char* key, const std::string& where) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"];
  throw Error(where + ": \"" + key + "\" is neither a string nor an AddedToken object");
}

// "chat_template" is a string or a list of {"name", "template"}: gqa renders the "default" one.
std::string template_from_config(const json& config, const fs::path& dir, const std::string& where) {
  const auto it = config.find("chat_template");
  if (it != config.end() && it->is_string()) return it->get<std::string>();
  if (it != config.end() && it->is_array()) {
    for (const auto& entry : *it) {
      // Each entry is {"name": ..., "template": ...} (transformers fails on any other): checked before
      // reading, since value() on a string entry threw nlohmann's message, naming neither file nor field.
      const auto name = entry.find("name"), body = entry.find("template");  // (end() unless an object)
      if (name == entry.end() || !name->is_string() || body == entry.end() || !body->is_string()) {
        throw Error(where + ": \"chat_template\" list entry " + json_brief(entry) +
                    " is not {\"name\": string, \"template\": string}");
      }
      if (*name == "default") return body->get<std::string>();
    }
    throw Error(where + ": \"chat_template\" is a list without a \"default\" template");
  }
  if (it != config.end() && !it->is_null()) throw Error(where + ": \"chat_template\" is not a string");
  const fs::path jinja = dir / "chat_template.jinja";  // where newer transformers save it
  if (fs::exists(jinja)) return read_file(jinja);
  throw Error(where + " has no \"chat_template\" (and there is no " + jinja.string() + ")");
}

}  // namespace

ChatTemplate ChatTemplate::from_string(std::string template_text, std::string bos_token, std::string eos_token) {
  return ChatTemplate(recognise(template_text), std::move(bos_token), std::move(eos_token));
}

ChatTemplate ChatTemplate::from_tokenizer_config(const std::string& path_or_dir) {
  fs::path path(path_or_dir);
  if (fs::is_directory(path)) path /= "tokenizer_config.json";
  const std::string where = path.string();
  const json config = read_json_file(where, "tokenizer file");
  if (!config.is_object()) throw Error(where + ": expected a JSON object");
  std::string text = template_from_config(config, path.parent_path(), where);
  try {
    return from_string(std::move(text), special_token(config, "bos_token", where),
                       special_token(config, "eos_token", where));
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  if (messages.empty()) {  // transformers refuses this before the template runs
    throw Error("chat template " + variant() +
                ": Cannot apply chat template to an empty conversation. Provide at least one message.");
  }
  return variant_->render(ChatRenderInput{messages, add_generation_prompt, bos_, eos_});
}

std::string ChatTemplate::family() const { return variant_->family; }
std::string ChatTemplate::variant() const { return variant_->id; }

std::vector<std::string> ChatTemplate::supported_variants() {
  std::vector<std::string> ids;
  for (const auto& v : kVariants) ids.emplace_back(v.id);
  return ids;
}

unsigned long long ChatTemplate::fingerprint(const std::string& template_text) {
  return fnv1a64(chat::canonical_template(template_text));
}

}  // namespace gqa::tok
