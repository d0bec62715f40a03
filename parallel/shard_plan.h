// ShardPlan: the single source of truth for which rank owns which heads, FFN columns and vocab rows.
//
// For T ranks and G KV heads (H query heads, group size H/G):
//   - G % T == 0: rank r owns KV heads [r*G/T, (r+1)*G/T) and the query heads that read them;
//   - T > G, T % G == 0, H % T == 0: KV head r / (T/G) is replicated on T/G ranks, each of which
//     owns H/T of its query heads;
//   - anything else is refused with a message naming the numbers.
// FFN columns and vocab rows are split into contiguous, nearly equal ranges (vocab in chunks of
// ceil(V/T) so logits can be all-gathered with equal counts). Callers read per-rank ranges and
// never assume every rank looks alike.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gqa {

struct Range {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
  bool contains(int64_t i) const { return i >= begin && i < end; }
};

struct ShardDims {
  int64_t n_heads = 0;            // H
  int64_t n_kv_heads = 0;         // G
  int64_t intermediate_size = 0;  // FFN width
  int64_t vocab_size = 0;
};

struct RankShard {
  Range q_heads;   // query heads owned
  Range kv_heads;  // KV heads held (one replicated head when T > G)
  Range ffn;       // FFN (gate/up rows, down columns)
  Range vocab;     // embedding / LM-head rows
};

class ShardPlan {
 public:
  // Throws gqa::Error naming the layout when it cannot be split this way.
  static ShardPlan make(const ShardDims& dims, int world_size);

  int world_size() const { return static_cast<int>(ranks_.size()); }
  const RankShard& rank(int r) const;  // throws gqa::Error for a rank outside [0, world_size)
  const ShardDims& dims() const { return dims_; }
  int64_t kv_replicas() const { return kv_replicas_; }  // ranks holding each KV head (1 = none)
  int64_t vocab_chunk() const { return vocab_chunk_; }  // padded per-rank vocab count for gathers
  std::string describe() const;                          // one line per rank, for logs

 private:
  ShardDims dims_;
  std::vector<RankShard> ranks_;
  int64_t kv_replicas_ = 1;
  int64_t vocab_chunk_ = 0;
};

}  // namespace gqa
