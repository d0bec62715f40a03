#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace gqa::tok {
namespace {

constexpr size_t kCacheMaxWordBytes = 256;  // longer words are merged every time, as in HF
constexpr size_t kCacheCapacity = 1 << 17;

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

uint64_t mix(uint64_t x) {  // splitmix64 finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

constexpr uint64_t kEmpty = ~0ULL;

// One queued merge: HF's `Merge` ordering (lowest rank, then lowest position) as a min-heap.
struct QueueEntry {
  int32_t rank;
  int32_t pos;
  int32_t new_id;
  bool operator>(const QueueEntry& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  bool alive;
};

}  // namespace

void BpeModel::PairMap::build(const std::vector<std::pair<uint64_t, Merge>>& items) {
  size_t cap = 16;
  while (cap < items.size() * 2) cap <<= 1;
  keys.assign(cap, kEmpty);
  vals.assign(cap, Merge{0, 0});
  mask = cap - 1;
  for (const auto& [key, m] : items) {
    size_t i = mix(key) & mask;
    while (keys[i] != kEmpty && keys[i] != key) i = (i + 1) & mask;
    keys[i] = key;  // a repeated pair keeps its last rank, like HF's HashMap collect
    vals[i] = m;
  }
}

const BpeModel::Merge* BpeModel::PairMap::find(int32_t a, int32_t b) const {
  const uint64_t key = pair_key(a, b);
  for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
    if (keys[i] == key) return &vals[i];
    if (keys[i] == kEmpty) return nullptr;
  }
}

BpeModel::BpeModel(TokenMap vocab, const std::vector<std::pair<std::string, std::string>>& merges,
                   BpeOptions options, const std::string& where)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  // The id -> token table has one slot per id up to the largest: bounded by the model's limit, so that one
  // large id cannot force a huge allocation. (tokenizer.json's loader also refuses ids far past the
  // vocabulary's size, naming the field; a GGUF's ids are positions in its token array.)
  int64_t max_id = -1;
  for (const auto& [tok, id] : vocab_) {
    GQA_CHECK(id >= 0, where << ": token '" << tok << "' has negative id " << id);
    GQA_CHECK(id < kMaxTokenIds,
              where << ": token '" << tok << "' has id " << id << ", past gqa's limit of 2^24 token ids");
    max_id = std::max<int64_t>(max_id, id);
  }
  id_to_token_.assign(static_cast<size_t>(max_id + 1), std::string());
  for (const auto& [tok, id] : vocab_) id_to_token_[id] = tok;

  std::vector<std::pair<uint64_t, Merge>> items;
  items.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& [a, b] = merges[r];
    const auto ia = vocab_.find(a), ib = vocab_.find(b), ic = vocab_.find(a + b);
    GQA_CHECK(ia != vocab_.end() && ib != vocab_.end(),
              where << ": merge " << r << " ('" << a << "' '" << b << "') uses a token missing from the vocabulary");
    GQA_CHECK(ic != vocab_.end(), where << ": merge " << r << " ('" << a << "' '" << b << "') makes '" << a + b
                                        << "', which is missing from the vocabulary");
    items.emplace_back(pair_key(ia->second, ib->second), Merge{static_cast<int32_t>(r), ic->second});
  }
  merges_.build(items);

  if (!options_.unk_token.empty()) {
    const auto it = vocab_.find(options_.unk_token);
    GQA_CHECK(it != vocab_.end(), where << ": unk_token '" << options_.unk_token << "' is not in the vocabulary");
    unk_id_ = it->second;
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    const auto it = vocab_.find(std::string_view(name));
    byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
  }
  bmp_ids_.assign(0x10000, -1);
  for (const auto& [tok, id] : vocab_) {
    const size_t n = tok.empty() ? 0 : utf8_char_len(tok, 0);
    if (n > 0 && n == tok.size() && n < 4) bmp_ids_[utf8_decode_at(tok, 0, n)] = id;
  }
}

std::optional<int32_t> BpeModel::token_id(std::string_view token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string& BpeModel::token(int32_t id) const {
  static const std::string kNone;
  return id >= 0 && id < id_bound() ? id_to_token_[id] : kNone;
}

int32_t BpeModel::char_id(std::string_view ch) const {
  if (ch.size() < 4) return bmp_ids_[utf8_decode_at(ch, 0, ch.size())];
  const auto it = vocab_.find(ch);
  return it == vocab_.end() ? -1 : it->second;
}

// HF's BPE::merge_word before merging: one symbol per character, byte fallback, then unk (fused or not).
void BpeModel::initial_symbols(std::string_view word, std::vector<int32_t>* ids) const {
  int32_t pending_unk = -1;  // HF holds an unknown character back so that fuse_unk can join the next one
  size_t i = 0;
  while (i < word.size()) {
    size_t n = utf8_char_len(word, i);
    if (n == 0) n = 1;  // cannot happen: the text was repaired to valid UTF-8
    const std::string_view ch = word.substr(i, n);
    i += n;
    const int32_t id = char_id(ch);
    if (id >= 0) {
      if (pending_unk >= 0) ids->push_back(pending_unk);
      pending_unk = -1;
      ids->push_back(id);
      continue;
    }
    if (options_.byte_fallback &&
        std::all_of(ch.begin(), ch.end(), [&](char c) { return byte_ids_[static_cast<unsigned char>(c)] >= 0; })) {
      for (char c : ch) ids->push_back(byte_ids_[static_cast<unsigned char>(c)]);
      continue;
    }
    if (unk_id_ >= 0) {
      if (pending_unk >= 0 && !options_.fuse_unk) ids->push_back(pending_unk);
      pending_unk = unk_id_;
    }
  }
  if (pending_unk >= 0) ids->push_back(pending_unk);
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>* out) const {
  std::vector<int32_t> ids;
  ids.reserve(word.size());
  initial_symbols(word, &ids);
  const int32_t n = static_cast<int32_t>(ids.size());
  std::vector<Symbol> sym(n);
  for (int32_t i = 0; i < n; ++i) sym[i] = {ids[i], i - 1, i + 1 < n ? i + 1 : -1, true};

  std::vector<QueueEntry> heap;
  heap.reserve(n);
  const auto push = [&](int32_t pos, const Merge& m) {
    heap.push_back({m.rank, pos, m.new_id});
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
  };
  for (int32_t i = 0; i + 1 < n; ++i) {
    if (const Merge* m = merges_.find(sym[i].id, sym[i + 1].id)) heap.push_back({m->rank, i, m->new_id});
  }
  std::make_heap(heap.begin(), heap.end(), std::greater<>());
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    const QueueEntry top = heap.back();
    heap.pop_back();
    Symbol& cur = sym[top.pos];
    if (!cur.alive || cur.next < 0) continue;
    const Symbol& right = sym[cur.next];
    const Merge* m = merges_.find(cur.id, right.id);
    if (m == nullptr || m->new_id != top.new_id) continue;  // a stale entry
    cur.id = top.new_id;
    const int32_t right_pos = cur.next;
    cur.next = right.next;
    sym[right_pos].alive = false;
    if (cur.next >= 0) sym[cur.next].prev = top.pos;
    if (cur.prev >= 0) {
      if (const Merge* pm = merges_.find(sym[cur.prev].id, cur.id)) push(cur.prev, *pm);
    }
    if (cur.next >= 0) {
      if (const Merge* nm = merges_.find(cur.id, sym[cur.next].id)) push(top.pos, *nm);
    }
  }
  for (int32_t i = n > 0 ? 0 : -1; i >= 0; i = sym[i].next) out->push_back(sym[i].id);
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>* out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (const auto it = vocab_.find(word); it != vocab_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() <= kCacheMaxWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (const auto it = cache_.find(word); it != cache_.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = out->size();
  merge_word(word, out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() < kCacheCapacity) cache_.emplace(std::string(word), std::vector<int32_t>(out->begin() + first, out->end()));
  }
}

}  // namespace gqa::tok
