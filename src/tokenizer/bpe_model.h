// The BPE model of a tokenizer: vocabulary, merge ranks, byte fallback and unknown token, with the exact
// merge order of Hugging Face tokenizers (lowest rank first, then leftmost; a priority queue over a linked
// list of symbols per word) and a word cache.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace gqa::tok {

// The largest vocabulary gqa runs (the model's limit, src/model/model.cpp): a token id at or past it
// could never be embedded or generated, and the id -> token table is sized by the largest id.
constexpr int64_t kMaxTokenIds = int64_t{1} << 24;
// How far past the vocabulary's end an id may lie (holes that added tokens fill: a few in real files).
// Without it one id of 10^7 in a 35 KB file would size the id -> token table at hundreds of MB.
constexpr int64_t kMaxIdGap = int64_t{1} << 16;

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct BpeOptions {
  bool byte_fallback = false;  // characters outside the vocabulary become <0xXX> tokens
  bool fuse_unk = false;       // consecutive unknown characters become one unk
  bool ignore_merges = false;  // a word that is itself a token is not merged (Llama-3)
  std::string unk_token;       // empty: unknown characters are dropped, as HF does
};

class BpeModel {
 public:
  // vocab: token -> id; merges: pairs in rank order. `where` names the source for errors. Ids must be
  // below kMaxTokenIds.
  BpeModel(TokenMap vocab, const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options,
           const std::string& where);

  // Appends the ids of one pre-tokenized word to `out`. Thread-safe.
  void tokenize(std::string_view word, std::vector<int32_t>* out) const;

  std::optional<int32_t> token_id(std::string_view token) const;
  // "" for an id the vocabulary does not hold.
  const std::string& token(int32_t id) const;
  int32_t id_bound() const { return static_cast<int32_t>(id_to_token_.size()); }
  const std::array<int32_t, 256>& byte_ids() const { return byte_ids_; }  // <0xXX> ids, -1 if absent

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  // Open-addressing map (left id, right id) -> Merge: the hot lookup of the merge loop.
  struct PairMap {
    std::vector<uint64_t> keys;
    std::vector<Merge> vals;
    uint64_t mask = 0;
    void build(const std::vector<std::pair<uint64_t, Merge>>& items);
    const Merge* find(int32_t a, int32_t b) const;
  };

  void merge_word(std::string_view word, std::vector<int32_t>* out) const;
  void initial_symbols(std::string_view word, std::vector<int32_t>* ids) const;
  int32_t char_id(std::string_view ch) const;

  TokenMap vocab_;
  std::vector<std::string> id_to_token_;
  PairMap merges_;
  BpeOptions options_;
  int32_t unk_id_ = -1;
  std::array<int32_t, 256> byte_ids_;
  std::vector<int32_t> bmp_ids_;  // code point < 0x10000 -> id of that one-character token, or -1

  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace gqa::tok
