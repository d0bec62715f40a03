// Loads a Hugging Face tokenizer.json (BPE model) and, from the same directory, the special-token ids of
// tokenizer_config.json, config.json and generation_config.json.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/tokenizer_parts.h"

namespace gqa::tok {
namespace {

using nlohmann::json;

json read_json(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  GQA_CHECK(f, path << ": cannot open");
  try {
    return json::parse(f);
  } catch (const json::exception& e) {
    GQA_FAIL(path << ": not valid JSON: " << e.what());
  }
}

std::vector<std::pair<std::string, std::string>> read_merges(const json& merges, const std::string& where) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (const json& m : merges) {
    if (m.is_array()) {
      GQA_CHECK(m.size() == 2, where << ": model.merges entry " << m.dump() << " is not a pair");
      out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      continue;
    }
    const std::string s = m.get<std::string>();
    const size_t sp = s.find(' ');
    GQA_CHECK(sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos,
              where << ": model.merges entry '" << s << "' is not two tokens separated by one space");
    out.emplace_back(s.substr(0, sp), s.substr(sp + 1));
  }
  return out;
}

std::unique_ptr<BpeModel> read_model(const json& m, const std::string& where) {
  const std::string type = m.value("type", "BPE");
  GQA_CHECK(type == "BPE", where << ": model.type '" << type << "' is not supported (only BPE)");
  const auto empty_or_null = [&](const char* key) {
    return !m.contains(key) || m[key].is_null() || (m[key].is_string() && m[key].get<std::string>().empty());
  };
  GQA_CHECK(empty_or_null("continuing_subword_prefix") && empty_or_null("end_of_word_suffix"),
            where << ": model.continuing_subword_prefix / end_of_word_suffix are not supported");
  GQA_CHECK(!m.contains("dropout") || m["dropout"].is_null() || m["dropout"].get<double>() == 0.0,
            where << ": model.dropout is not supported (encoding would be random)");
  TokenMap vocab;
  for (const auto& [tok, id] : m.at("vocab").items()) vocab.emplace(tok, id.get<int32_t>());
  BpeOptions opt;
  opt.byte_fallback = m.value("byte_fallback", false);
  opt.fuse_unk = m.value("fuse_unk", false);
  opt.ignore_merges = m.value("ignore_merges", false);
  if (m.contains("unk_token") && m["unk_token"].is_string()) opt.unk_token = m["unk_token"].get<std::string>();
  return std::make_unique<BpeModel>(std::move(vocab), read_merges(m.at("merges"), where + ": model.merges"),
                                    std::move(opt), where);
}

// ids the post-processor puts before/after a single sequence ($A) when add_special is set.
void read_post_processor(const json& pp, TokenizerParts& p, const std::string& where) {
  if (pp.is_null()) return;
  const std::string type = pp.value("type", "");
  if (type == "Sequence") {
    for (const json& sub : pp.at("processors")) read_post_processor(sub, p, where);
  } else if (type == "TemplateProcessing") {
    bool after = false;
    for (const json& item : pp.at("single")) {
      if (item.contains("Sequence")) {
        after = true;
        continue;
      }
      const std::string name = item.at("SpecialToken").at("id").get<std::string>();
      const json& spec = pp.at("special_tokens").at(name);
      auto& dst = after ? p.suffix_ids : p.prefix_ids;
      for (const json& id : spec.at("ids")) dst.push_back(id.get<int32_t>());
    }
  } else if (type == "BertProcessing" || type == "RobertaProcessing") {
    p.prefix_ids.push_back(pp.at("cls").at(1).get<int32_t>());
    p.suffix_ids.push_back(pp.at("sep").at(1).get<int32_t>());
  } else {
    GQA_CHECK(type == "ByteLevel", where << ": unsupported post_processor type '" << type << "'");
  }
}

std::string token_content(const json& t) {
  if (t.is_string()) return t.get<std::string>();
  if (t.is_object() && t.contains("content")) return t["content"].get<std::string>();
  return {};
}

void add_ids(const json& v, std::vector<int32_t>& out) {
  if (v.is_number_integer()) out.push_back(v.get<int32_t>());
  if (v.is_array()) {
    for (const json& x : v) add_ids(x, out);
  }
}

// bos/eos from the files transformers reads beside tokenizer.json; the template's first special as fallback.
std::optional<int32_t> lookup(const TokenizerParts& p, const std::string& token) {
  if (token.empty()) return std::nullopt;
  for (const AddedToken& t : p.added.all()) {
    if (t.content == token) return t.id;
  }
  return p.model->token_id(token);
}

void read_special_ids(const std::filesystem::path& dir, TokenizerParts& p) {
  std::vector<int32_t> eos;
  for (const char* name : {"generation_config.json", "config.json"}) {
    const auto f = dir / name;
    if (!std::filesystem::exists(f)) continue;
    const json j = read_json(f.string());
    if (j.contains("eos_token_id")) add_ids(j["eos_token_id"], eos);
    if (p.bos_id < 0 && j.contains("bos_token_id") && j["bos_token_id"].is_number_integer()) {
      p.bos_id = j["bos_token_id"].get<int32_t>();
    }
  }
  const auto cfg = dir / "tokenizer_config.json";
  if (std::filesystem::exists(cfg)) {
    const json j = read_json(cfg.string());
    if (const auto id = lookup(p, token_content(j.value("eos_token", json()))); id) eos.push_back(*id);
    if (const auto id = lookup(p, token_content(j.value("bos_token", json()))); id) p.bos_id = *id;
  }
  if (p.bos_id < 0 && !p.prefix_ids.empty()) p.bos_id = p.prefix_ids.front();
  for (int32_t id : eos) {
    if (std::find(p.eos_ids.begin(), p.eos_ids.end(), id) == p.eos_ids.end()) p.eos_ids.push_back(id);
  }
}

}  // namespace

std::unique_ptr<TokenizerParts> load_tokenizer_json(const std::string& path) {
  const json j = read_json(path);
  auto p = std::make_unique<TokenizerParts>();
  p->source = path;
  try {
    GQA_CHECK(j.contains("model"), path << ": no \"model\" (is this a tokenizer.json?)");
    p->model = read_model(j.at("model"), path);
    for (const json& t : j.value("added_tokens", json::array())) {
      p->added.add({t.at("id").get<int32_t>(), t.at("content").get<std::string>(), t.value("special", false),
                    t.value("normalized", true), t.value("lstrip", false), t.value("rstrip", false),
                    t.value("single_word", false)});
    }
    p->normalizer = Normalizer::from_json(j.value("normalizer", json()), path);
    p->pre_tokenizer = PreTokenizer::from_json(j.value("pre_tokenizer", json()), path);
    p->decoder = Decoder::from_json(j.value("decoder", json()), path);
    read_post_processor(j.value("post_processor", json()), *p, path);
  } catch (const json::exception& e) {
    GQA_FAIL(path << ": unexpected tokenizer.json structure: " << e.what());
  }
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  read_special_ids(dir.empty() ? std::filesystem::path(".") : dir, *p);
  return p;
}

}  // namespace gqa::tok
