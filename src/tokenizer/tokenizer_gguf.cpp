// Builds a tokenizer from the vocabulary stored in a GGUF file, as transformers' GGUF conversion does
// (transformers/integrations/gguf/gguf_tokenizer_mapping.py, 5.24):
//  - tokenizer.ggml.model "llama": SentencePiece BPE. The file has scores instead of merges; the merges are
//    recovered from the vocabulary like transformers' generate_merges (every split of a token into two
//    tokens, best score first). Metaspace "▁" prepended to the first word, byte fallback <0xXX>, decoder
//    Replace ▁ → " ", ByteFallback, Fuse, Strip one leading space.
//  - "gpt2": byte-level BPE with the file's merges; tokenizer.ggml.pre picks the split regex.
// Tokens of type CONTROL (3) become special added tokens, USER_DEFINED (4) plain added tokens.
#include <algorithm>
#include <unordered_set>

#include "core/error.h"
#include "core/json_limits.h"
#include "tokenizer/gguf_reader.h"
#include "tokenizer/tokenizer_parts.h"
#include "tokenizer/utf8.h"

namespace gqa::tok {
namespace {

constexpr int64_t kTypeControl = 3, kTypeUserDefined = 4;

size_t cp_count(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) {
    const size_t k = utf8_char_len(s, i);
    i += k ? k : 1;
  }
  return n;
}

// transformers' generate_merges(vocab, vocab_scores) for a SentencePiece vocabulary.
std::vector<std::pair<std::string, std::string>> merges_from_scores(const std::vector<std::string>& tokens,
                                                                    const std::vector<double>& scores,
                                                                    const TokenMap& vocab) {
  struct Candidate {
    std::string_view l, r;
    double score;
    size_t len_l, len_r;
  };
  std::vector<Candidate> all;
  std::unordered_set<std::string_view> seen;  // dict(zip(tokens, scores)): first position, last score
  std::unordered_map<std::string_view, double> score_of;
  for (size_t i = 0; i < tokens.size(); ++i) score_of[tokens[i]] = scores[i];
  // A half can only be a token if some token has its length in bytes. Looking up only those halves gives
  // the same merges and keeps a long token linear: every split of a 400 KB token hashed its halves
  // (quadratic, 11 s) though no other token was longer than a few dozen bytes.
  size_t max_len = 0;
  for (const std::string& t : tokens) max_len = std::max(max_len, t.size());
  std::vector<bool> is_token_length(max_len + 1, false);
  for (const std::string& t : tokens) is_token_length[t.size()] = true;
  for (const std::string& merge : tokens) {
    if (!seen.insert(merge).second) continue;
    std::vector<Candidate> local;
    for (size_t i = 0; i < merge.size();) {
      const size_t k = utf8_char_len(merge, i);
      i += k ? k : 1;
      if (i >= merge.size()) break;
      if (!is_token_length[i] || !is_token_length[merge.size() - i]) continue;
      const std::string_view l(merge.data(), i), r(merge.data() + i, merge.size() - i);
      if (vocab.find(l) != vocab.end() && vocab.find(r) != vocab.end()) {
        local.push_back({l, r, score_of[merge], cp_count(l), cp_count(r)});
      }
    }
    std::stable_sort(local.begin(), local.end(), [&](const Candidate& a, const Candidate& b) {
      const int32_t al = vocab.find(a.l)->second, bl = vocab.find(b.l)->second;
      return al != bl ? al < bl : vocab.find(a.r)->second < vocab.find(b.r)->second;
    });
    all.insert(all.end(), local.begin(), local.end());
  }
  std::stable_sort(all.begin(), all.end(), [](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.len_l != b.len_l) return a.len_l > b.len_l;
    return a.len_r > b.len_r;
  });
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(all.size());
  for (const Candidate& c : all) out.emplace_back(std::string(c.l), std::string(c.r));
  return out;
}

// A token written in raw text (not the byte alphabet) is respelled byte by byte, like transformers does.
std::string byte_level_spelling(const std::string& token) {
  bool in_alphabet = true;
  for (size_t i = 0; i < token.size() && in_alphabet;) {
    const size_t n = utf8_char_len(token, i);
    in_alphabet = n > 0 && unicode_to_byte(utf8_decode_at(token, i, n)) >= 0;
    i += n ? n : 1;
  }
  if (in_alphabet) return token;
  std::string out;
  for (unsigned char c : token) out += byte_to_unicode()[c];
  return out;
}

void configure_llama(const GgufFile& f, const std::vector<std::string>& tokens, TokenizerParts& p) {
  const std::vector<double> scores = f.get_float_array("tokenizer.ggml.scores");
  GQA_CHECK(scores.size() == tokens.size(), f.path() << ": tokenizer.ggml.scores has " << scores.size()
                                                     << " entries for " << tokens.size() << " tokens");
  TokenMap vocab;
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = static_cast<int32_t>(i);
  auto merges = merges_from_scores(tokens, scores, vocab);
  BpeOptions opt;
  opt.byte_fallback = true;
  opt.fuse_unk = true;
  p.model = std::make_unique<BpeModel>(std::move(vocab), merges, opt, f.path());
  const bool space_prefix = !f.find("tokenizer.ggml.add_space_prefix") || f.get_bool("tokenizer.ggml.add_space_prefix");
  p.pre_tokenizer.add(PreTokenizer::metaspace("\u2581", space_prefix ? PrependScheme::kFirst : PrependScheme::kNever, false));
  p.decoder.add(Decoder::step(Decoder::Kind::kReplace, "\u2581", " "));
  p.decoder.add(Decoder::step(Decoder::Kind::kByteFallback));
  p.decoder.add(Decoder::step(Decoder::Kind::kFuse));
  p.decoder.add(Decoder::step(Decoder::Kind::kStrip, " ", "", 1, 0));
}

void configure_gpt2(const GgufFile& f, const std::vector<std::string>& tokens, TokenizerParts& p) {
  TokenMap vocab;
  for (size_t i = 0; i < tokens.size(); ++i) vocab[byte_level_spelling(tokens[i])] = static_cast<int32_t>(i);
  std::vector<std::pair<std::string, std::string>> merges;
  for (const std::string& m : f.get_string_array("tokenizer.ggml.merges")) {
    const size_t sp = m.find(' ');
    GQA_CHECK(sp != std::string::npos && m.find(' ', sp + 1) == std::string::npos,
              f.path() << ": tokenizer.ggml.merges entry '" << m << "' is not two tokens separated by one space");
    merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
  }
  p.model = std::make_unique<BpeModel>(std::move(vocab), merges, BpeOptions{}, f.path());
  const std::string pre = f.find("tokenizer.ggml.pre") ? f.get_string("tokenizer.ggml.pre") : "default";
  const char* regex = nullptr;
  if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3" || pre == "smaug-bpe" || pre == "dbrx") {
    regex = kLlama3SplitRegex;
  } else if (pre == "qwen2" || pre == "deepseek-r1-qwen" || pre == "megrez") {
    regex = kQwen2SplitRegex;
  } else {
    GQA_CHECK(pre == "gpt-2" || pre == "gpt2" || pre == "default",
              f.path() << ": tokenizer.ggml.pre '" << pre
                       << "' is not supported (gpt-2/default, llama-bpe/llama3/falcon3/smaug-bpe/dbrx, qwen2)");
  }
  if (regex) {
    p.pre_tokenizer.add(PreTokenizer::split_regex(regex, f.path() + ": tokenizer.ggml.pre " + pre));
    p.pre_tokenizer.add(PreTokenizer::byte_level(false, false));
  } else {
    p.pre_tokenizer.add(PreTokenizer::byte_level(false, true));
  }
  p.decoder.add(Decoder::step(Decoder::Kind::kByteLevel));
}

std::optional<int32_t> optional_id(const GgufFile& f, const std::string& key, size_t n_tokens) {
  if (!f.find(key)) return std::nullopt;
  const int64_t id = f.get_int(key);
  GQA_CHECK(id >= 0 && static_cast<size_t>(id) < n_tokens, f.path() << ": " << key << " = " << id
                                                                     << " is outside the " << n_tokens << " tokens");
  return static_cast<int32_t>(id);
}

// Control tokens and the bos/eos/unk/pad ids become special added tokens; user-defined ones plain added tokens.
void add_special_tokens(const GgufFile& f, const std::vector<std::string>& tokens, bool byte_level, TokenizerParts& p) {
  std::vector<int64_t> types;
  if (f.find("tokenizer.ggml.token_type")) types = f.get_int_array("tokenizer.ggml.token_type");
  GQA_CHECK(types.empty() || types.size() == tokens.size(), f.path() << ": tokenizer.ggml.token_type has "
                                                                     << types.size() << " entries for " << tokens.size() << " tokens");
  const auto spelled = [&](const std::string& t) { return !byte_level || byte_level_spelling(t) == t; };
  // An added token is matched in the text byte for byte: one that is not valid UTF-8 (a lone lead
  // or continuation byte) would match inside a character and cut it (transformers' GGUF reader
  // cannot decode such a token either).
  const auto add = [&](int32_t id, bool special) {
    GQA_CHECK(is_valid_utf8(tokens[id]), f.path() << ": token " << id << " " << json_brief(nlohmann::json(repair_utf8(tokens[id])))
                                                  << " (a special, control or user-defined token) is not valid UTF-8");
    p.added.add({id, tokens[id], special, false, false, false, false});
  };
  for (const char* key : {"unknown_token_id", "bos_token_id", "eos_token_id", "padding_token_id"}) {
    if (const auto id = optional_id(f, std::string("tokenizer.ggml.") + key, tokens.size())) add(*id, true);
  }
  for (size_t i = 0; i < types.size(); ++i) {
    const auto id = static_cast<int32_t>(i);
    if (types[i] == kTypeControl && spelled(tokens[i])) add(id, true);
    if (types[i] == kTypeUserDefined) add(id, false);
  }
}

}  // namespace

std::unique_ptr<TokenizerParts> load_tokenizer_gguf(const std::string& path) {
  const GgufFile f = GgufFile::open(path);
  auto p = std::make_unique<TokenizerParts>();
  p->source = path;
  p->gguf = true;
  const std::string model = f.get_string("tokenizer.ggml.model");
  const std::vector<std::string> tokens = f.get_string_array("tokenizer.ggml.tokens");
  GQA_CHECK(!tokens.empty(), path << ": tokenizer.ggml.tokens is empty");
  // Ids are positions in this array (int32_t): more tokens than the model can embed is a broken file.
  GQA_CHECK(static_cast<int64_t>(tokens.size()) <= kMaxTokenIds,
            path << ": tokenizer.ggml.tokens has " << tokens.size() << " tokens, more than gqa's limit of 2^24");
  if (model == "llama") configure_llama(f, tokens, *p);
  else if (model == "gpt2") configure_gpt2(f, tokens, *p);
  else GQA_FAIL(path << ": tokenizer.ggml.model '" << model << "' is not supported (llama or gpt2)");
  add_special_tokens(f, tokens, model == "gpt2", *p);

  const auto bos = optional_id(f, "tokenizer.ggml.bos_token_id", tokens.size());
  const auto eos = optional_id(f, "tokenizer.ggml.eos_token_id", tokens.size());
  const auto eot = optional_id(f, "tokenizer.ggml.eot_token_id", tokens.size());
  p->bos_id = bos.value_or(-1);
  if (eos) p->eos_ids.push_back(*eos);
  if (eot && eot != eos) p->eos_ids.push_back(*eot);
  // transformers adds BOS to a SentencePiece vocabulary that does not say otherwise.
  const bool add_bos = f.find("tokenizer.ggml.add_bos_token") ? f.get_bool("tokenizer.ggml.add_bos_token") : model == "llama";
  const bool add_eos = f.find("tokenizer.ggml.add_eos_token") && f.get_bool("tokenizer.ggml.add_eos_token");
  if (add_bos && bos) p->prefix_ids.push_back(*bos);
  if (add_eos && eos) p->suffix_ids.push_back(*eos);
  return p;
}

}  // namespace gqa::tok
