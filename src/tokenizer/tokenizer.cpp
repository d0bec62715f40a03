#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "tokenizer/tokenizer_parts.h"
#include "tokenizer/utf8.h"

namespace gqa::tok {
namespace {

bool has_gguf_magic(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;  // (a FIFO would block the read; the reader refuses it)
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  return f.read(magic, 4) && std::string_view(magic, 4) == "GGUF";
}

// A .gguf by name goes to the GGUF reader even when it is too short for the magic (it then says what is
// wrong with the GGUF instead of "not valid JSON"); a GGUF by another name is known by its magic.
bool is_gguf_file(const std::string& path) {
  return std::filesystem::path(path).extension() == ".gguf" || has_gguf_magic(path);
}

}  // namespace

Tokenizer Tokenizer::load(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  GQA_CHECK(fs::exists(path, ec), path << ": no such file or directory (expected a tokenizer.json, a directory "
                                          "holding one, or a .gguf)");
  if (fs::is_directory(path, ec)) {
    const fs::path json = fs::path(path) / "tokenizer.json";
    GQA_CHECK(fs::exists(json, ec), path << ": directory has no tokenizer.json");
    return from_json_file(json.string());
  }
  if (is_gguf_file(path)) return from_gguf(path);
  return from_json_file(path);
}

Tokenizer Tokenizer::from_json_file(const std::string& path) { return Tokenizer(load_tokenizer_json(path)); }
Tokenizer Tokenizer::from_gguf(const std::string& path) { return Tokenizer(load_tokenizer_gguf(path)); }

Tokenizer::Tokenizer(std::unique_ptr<TokenizerParts> parts) : p_(std::move(parts)) {
  GQA_CHECK(p_ && p_->model, "Tokenizer: no model");
}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special) const {
  std::string repaired;
  if (!is_valid_utf8(text)) {
    repaired = repair_utf8(text);
    text = repaired;
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (add_special) ids = p_->prefix_ids;
  std::vector<Piece> pieces;
  const bool normalized_added = p_->added.has_normalized();
  for (const Segment& seg : p_->added.split(text, /*normalized=*/false)) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    std::string norm;
    std::string_view body = seg.text;
    if (!p_->normalizer.empty()) body = norm = p_->normalizer.apply(seg.text);
    std::vector<Segment> subs = normalized_added ? p_->added.split(body, true) : std::vector<Segment>{{body, -1, 0}};
    for (const Segment& sub : subs) {
      if (sub.id >= 0) {
        ids.push_back(sub.id);
        continue;
      }
      pieces.clear();
      p_->pre_tokenizer.apply(sub.text, seg.offset == 0 && sub.offset == 0, &pieces);
      for (const Piece& w : pieces) p_->model->tokenize(w.text, &ids);
    }
  }
  if (add_special) ids.insert(ids.end(), p_->suffix_ids.begin(), p_->suffix_ids.end());
  return ids;
}

std::string Tokenizer::decode_bytes(std::span<const int32_t> ids, bool skip_special) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (skip_special && is_special(id)) continue;
    tokens.push_back(token_text(id));
  }
  return p_->decoder.decode(std::move(tokens));
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  return repair_utf8(decode_bytes(ids, skip_special));
}

int32_t Tokenizer::bos_id() const { return p_->bos_id; }
const std::vector<int32_t>& Tokenizer::eos_ids() const { return p_->eos_ids; }
const std::string& Tokenizer::source() const { return p_->source; }

const std::string& Tokenizer::token_text(int32_t id) const {
  if (const AddedToken* t = p_->added.find_id(id)) return t->content;
  const std::string& s = p_->model->token(id);
  GQA_CHECK(!s.empty(), p_->source << ": token id " << id << " is not in the vocabulary (size " << vocab_size() << ")");
  return s;
}

bool Tokenizer::spells(int32_t id) const {
  return p_->added.find_id(id) != nullptr || !p_->model->token(id).empty();
}

bool Tokenizer::is_special(int32_t id) const {
  const AddedToken* t = p_->added.find_id(id);
  return t != nullptr && t->special;
}

std::optional<int32_t> Tokenizer::token_id(std::string_view token) const {
  for (const AddedToken& t : p_->added.all()) {
    if (t.content == token) return t.id;
  }
  return p_->model->token_id(token);
}

int32_t Tokenizer::vocab_size() const {
  // In int64_t: t.id + 1 overflowed for an id of INT32_MAX. The loaders keep ids below kMaxTokenIds, so
  // the result fits; the clamp only keeps a Tokenizer built from other parts well defined.
  int64_t n = p_->model->id_bound();
  for (const AddedToken& t : p_->added.all()) n = std::max<int64_t>(n, int64_t{t.id} + 1);
  return static_cast<int32_t>(std::min<int64_t>(n, std::numeric_limits<int32_t>::max()));
}

bool Tokenizer::is_gguf() const { return p_->gguf; }

}  // namespace gqa::tok
