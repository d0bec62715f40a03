// Paged KV cache: fixed-size blocks shared by all sequences, one block table per sequence.
// Every rank holds the K/V of its own KV heads only; all ranks make the same allocation
// decisions because they see the same sequence of calls.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "kernels/ops.h"
#include "runtime/kv_page_size.h"

namespace gqa {

// Thrown when a sequence needs a block and none is free; the cache is left unchanged.
class KvCacheFull : public Error {
 public:
  using Error::Error;
};

class BlockAllocator {
 public:
  explicit BlockAllocator(int64_t num_blocks);
  int32_t allocate();  // lowest free block; throws KvCacheFull when none is free
  void free(int32_t block);
  int64_t num_free() const { return static_cast<int64_t>(free_.size()); }
  int64_t num_total() const { return num_total_; }

 private:
  int64_t num_total_;
  std::vector<int32_t> free_;  // kept sorted descending so back() is the lowest id
  std::vector<bool> in_use_;
};

struct KvCacheShape {
  int64_t num_layers = 0;
  int64_t num_blocks = 0;
  int64_t block_size = kDefaultKvBlockSize;
  int64_t n_kv_heads_local = 0;
  int64_t head_dim = 0;
};

class PagedKvCache {
 public:
  PagedKvCache(const KvCacheShape& shape, DType dtype, Ops& ops);
  // The checks the constructor makes (the slots it can index; on the CPU, the memory this process
  // may use), without allocating anything: a tool checks its flags so before loading a model.
  static void check_shape(const KvCacheShape& shape, DType dtype, const Ops& ops);
  // Not copyable: a copy would share the K/V memory (and id) but hand out the same blocks again.
  PagedKvCache(const PagedKvCache&) = delete;
  PagedKvCache& operator=(const PagedKvCache&) = delete;
  PagedKvCache(PagedKvCache&&) = default;  // (the moved-from cache is not used again)

  int add_sequence();              // returns a new sequence id
  void free_sequence(int seq);     // returns its blocks to the allocator
  // Reserves n more positions for seq and returns their flat slots (block * block_size + offset).
  // Throws KvCacheFull (and reserves nothing) when the blocks needed are not free.
  std::vector<int32_t> append(int seq, int64_t n);
  bool has_sequence(int seq) const { return seqs_.count(seq) != 0; }
  // Blocks a sequence of `positions` positions takes (also before a cache exists: sizing one).
  static int64_t blocks_for(int64_t positions, int64_t block_size) { return (positions + block_size - 1) / block_size; }
  int64_t blocks_for(int64_t positions) const { return blocks_for(positions, shape_.block_size); }
  int64_t length(int seq) const;
  const std::vector<int32_t>& block_table(int seq) const;

  const KvCacheShape& shape() const { return shape_; }
  Tensor k(int64_t layer) const;  // [num_blocks, block_size, hkv, hd]; gqa::Error past num_layers
  Tensor v(int64_t layer) const;
  const BlockAllocator& allocator() const { return allocator_; }
  // Unique for the life of the process (never reused, unlike an address): names this cache in
  // keys of recorded CUDA graphs.
  uint64_t id() const { return id_; }

 private:
  struct Sequence {
    int64_t length = 0;
    std::vector<int32_t> blocks;
  };
  Sequence& seq_ref(int seq);
  const Sequence& seq_ref(int seq) const;

  KvCacheShape shape_;
  BlockAllocator allocator_;
  std::vector<Tensor> k_, v_;
  std::map<int, Sequence> seqs_;
  int next_seq_ = 0;
  uint64_t id_ = 0;
};

}  // namespace gqa
