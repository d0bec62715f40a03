// Loads a Hugging Face tokenizer.json (BPE model) and, from the same directory, the special-token ids of
// tokenizer_config.json, config.json and generation_config.json.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_limits.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/tokenizer_parts.h"

namespace gqa::tok {
namespace {

using nlohmann::json;

const char* const kInVocabulary = "the vocabulary's ids";  // (what bounds an id, for the messages)

// The depth limit keeps the recursive readers below (Sequence in Sequence ...) and nlohmann's own
// destructor off the end of the stack: a 770 KB file of nested Sequences crashed them.
json read_json(const std::string& path) { return read_json_file(path, "tokenizer file"); }

// The one past the largest id the tokenizer spells: what bos/eos/post-processor ids must stay below.
int64_t vocab_end(const TokenizerParts& p) {
  int64_t n = p.model->id_bound();
  for (const AddedToken& t : p.added.all()) n = std::max<int64_t>(n, int64_t{t.id} + 1);
  return n;
}

std::vector<std::pair<std::string, std::string>> read_merges(const json& model, const std::string& where) {
  const json& merges = json_array_field(model, "merges", where, "model.merges");
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (const json& m : merges) {
    if (m.is_array()) {
      GQA_CHECK(m.size() == 2 && m[0].is_string() && m[1].is_string(),
                where << ": model.merges entry " << json_brief(m) << " is not a pair of strings");
      out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      continue;
    }
    GQA_CHECK(m.is_string(),
              where << ": model.merges entry " << json_brief(m) << " is neither \"a b\" nor [\"a\", \"b\"]");
    const std::string s = m.get<std::string>();
    const size_t sp = s.find(' ');
    GQA_CHECK(sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos,
              where << ": model.merges entry " << json_brief(m) << " is not two tokens separated by one space");
    out.emplace_back(s.substr(0, sp), s.substr(sp + 1));
  }
  return out;
}

// Where the ids of a vocabulary of `n` entries (or of the tokens added to one) must end, and why.
struct IdBound {
  int64_t end;
  std::string why;
};
IdBound id_bound(int64_t n, const std::string& what) {
  if (n + kMaxIdGap >= kMaxTokenIds) return {kMaxTokenIds, "gqa's limit of 2^24 token ids"};
  return {n + kMaxIdGap, "at most " + std::to_string(kMaxIdGap) + " past " + what};
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
  const json& vocab_json = json_field(m, "vocab");
  GQA_CHECK(vocab_json.is_object(),
            where << ": model.vocab must be an object of token: id, got " << json_brief(vocab_json));
  // Ids past the model's limit or far past the vocabulary's size are refused here, naming the token,
  // before the id -> token table is sized by the largest of them.
  const IdBound bound = id_bound(static_cast<int64_t>(vocab_json.size()),
                                 "the vocabulary's " + std::to_string(vocab_json.size()) + " tokens");
  TokenMap vocab;
  for (const auto& [tok, id] : vocab_json.items()) {
    vocab.emplace(tok, json_token_id(id, bound.end, where, "model.vocab[" + json_brief(json(tok)) + "]", bound.why));
  }
  BpeOptions opt;
  opt.byte_fallback = m.value("byte_fallback", false);
  opt.fuse_unk = m.value("fuse_unk", false);
  opt.ignore_merges = m.value("ignore_merges", false);
  if (m.contains("unk_token") && m["unk_token"].is_string()) opt.unk_token = m["unk_token"].get<std::string>();
  return std::make_unique<BpeModel>(std::move(vocab), read_merges(m, where), std::move(opt), where);
}

// ids the post-processor puts before/after a single sequence ($A) when add_special is set: encode emits
// them, so they must be ids of the vocabulary (`end`).
void read_post_processor(const json& pp, TokenizerParts& p, int64_t end, const std::string& where) {
  if (pp.is_null()) return;
  const std::string type = pp.value("type", "");
  if (type == "Sequence") {
    for (const json& sub : json_array_field(pp, "processors", where, "post_processor Sequence.processors")) {
      read_post_processor(sub, p, end, where);
    }
  } else if (type == "TemplateProcessing") {
    bool after = false;
    for (const json& item : json_array_field(pp, "single", where, "post_processor TemplateProcessing.single")) {
      if (item.contains("Sequence")) {
        after = true;
        continue;
      }
      const std::string name = item.at("SpecialToken").at("id").get<std::string>();
      const json& spec = pp.at("special_tokens").at(name);
      const std::string field = "post_processor.special_tokens[" + json_brief(json(name)) + "].ids";
      auto& dst = after ? p.suffix_ids : p.prefix_ids;
      const json& ids = json_array_field(spec, "ids", where, field);
      for (size_t k = 0; k < ids.size(); ++k) {
        dst.push_back(json_token_id(ids[k], end, where, field + "[" + std::to_string(k) + "]", kInVocabulary));
      }
    }
  } else if (type == "BertProcessing" || type == "RobertaProcessing") {
    p.prefix_ids.push_back(json_token_id(pp.at("cls").at(1), end, where, "post_processor.cls[1]", kInVocabulary));
    p.suffix_ids.push_back(json_token_id(pp.at("sep").at(1), end, where, "post_processor.sep[1]", kInVocabulary));
  } else {
    GQA_CHECK(type == "ByteLevel", where << ": unsupported post_processor type '" << type << "'");
  }
}

// "eos_token": "</s>" | {"content": "</s>", ...} (an AddedToken) | null | absent, as chat_template.cpp reads it.
std::string token_content(const json& config, const char* key, const std::string& where) {
  const json& t = json_field(config, key);
  if (t.is_null()) return {};
  if (t.is_string()) return t.get<std::string>();
  const json& content = json_field(t, "content");
  GQA_CHECK(content.is_string(), where << ": " << key << " = " << json_brief(t)
                                       << " is neither a string nor an AddedToken object with a string \"content\"");
  return content.get<std::string>();
}

json read_config(const std::filesystem::path& f) {
  json j = read_json(f.string());
  GQA_CHECK(j.is_object(), f.string() << ": expected a JSON object, got " << json_brief(j));
  return j;
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
  const int64_t end = vocab_end(p);
  for (const char* name : {"generation_config.json", "config.json"}) {
    const auto f = dir / name;
    if (!std::filesystem::exists(f)) continue;
    const json j = read_config(f);
    for (int32_t id : json_token_id_list(json_field(j, "eos_token_id"), end, f.string(), "eos_token_id", kInVocabulary)) {
      eos.push_back(id);
    }
    // Checked even when generation_config.json already gave one: a bad id is a broken file either way.
    const json& bos = json_field(j, "bos_token_id");
    if (!bos.is_null()) {
      const int32_t id = json_token_id(bos, end, f.string(), "bos_token_id", kInVocabulary);
      if (p.bos_id < 0) p.bos_id = id;
    }
  }
  const auto cfg = dir / "tokenizer_config.json";
  if (std::filesystem::exists(cfg)) {
    const json j = read_config(cfg);
    if (const auto id = lookup(p, token_content(j, "eos_token", cfg.string())); id) eos.push_back(*id);
    if (const auto id = lookup(p, token_content(j, "bos_token", cfg.string())); id) p.bos_id = *id;
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
    GQA_CHECK(j.is_object() && j.contains("model"), path << ": no \"model\" (is this a tokenizer.json?)");
    p->model = read_model(j.at("model"), path);
    const json& added = json_field(j, "added_tokens");
    GQA_CHECK(added.is_null() || added.is_array(),
              path << ": added_tokens must be an array, got " << json_brief(added));
    // Added tokens follow the vocabulary (or fill its holes): bounded like its ids, so that vocab_size()
    // stays an int32_t and within what the model can embed.
    const IdBound bound = id_bound(int64_t{p->model->id_bound()} + static_cast<int64_t>(added.size()),
                                   "the vocabulary and its added tokens");
    for (size_t k = 0; k < added.size(); ++k) {
      const json& t = added[k];
      const std::string field = "added_tokens[" + std::to_string(k) + "].id";
      p->added.add({json_token_id(json_field(t, "id"), bound.end, path, field, bound.why),
                    t.at("content").get<std::string>(), t.value("special", false), t.value("normalized", true),
                    t.value("lstrip", false), t.value("rstrip", false), t.value("single_word", false)});
    }
    // By reference: value(key, json()) copied each subtree (recursively, before the depth limit existed).
    p->normalizer = Normalizer::from_json(json_field(j, "normalizer"), path);
    p->pre_tokenizer = PreTokenizer::from_json(json_field(j, "pre_tokenizer"), path);
    p->decoder = Decoder::from_json(json_field(j, "decoder"), path);
    read_post_processor(json_field(j, "post_processor"), *p, vocab_end(*p), path);
  } catch (const json::exception& e) {
    GQA_FAIL(path << ": unexpected tokenizer.json structure: " << e.what());
  }
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  try {
    read_special_ids(dir, *p);
  } catch (const json::exception& e) {  // (each field is checked: this is a backstop that names the files)
    GQA_FAIL(dir.string() << ": unexpected structure in generation_config.json, config.json or tokenizer_config.json: "
                          << e.what());
  }
  return p;
}

}  // namespace gqa::tok
