#include "runtime/kv_cache.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <iomanip>

#include "core/host_memory.h"

namespace gqa {

BlockAllocator::BlockAllocator(int64_t num_blocks) : num_total_(num_blocks), in_use_(num_blocks, false) {
  GQA_CHECK(num_blocks > 0, "KV cache needs at least one block, got " << num_blocks);
  GQA_CHECK(num_blocks <= INT32_MAX, "KV cache block count " << num_blocks << " exceeds int32");
  free_.reserve(num_blocks);
  for (int64_t b = num_blocks - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

int32_t BlockAllocator::allocate() {
  if (free_.empty()) {
    throw KvCacheFull("KV cache is full: all " + std::to_string(num_total_) +
                      " blocks are in use (raise --kv-blocks or shorten the request)");
  }
  const int32_t b = free_.back();
  free_.pop_back();
  in_use_[b] = true;
  return b;
}

void BlockAllocator::free(int32_t block) {
  GQA_CHECK(block >= 0 && block < num_total_ && in_use_[block],
            "KV cache block " << block << " freed but not in use");
  in_use_[block] = false;
  // Keep descending order so the lowest free id is reused first (deterministic on every rank).
  free_.insert(std::upper_bound(free_.begin(), free_.end(), block, std::greater<int32_t>()), block);
}

namespace {

// `shape`, once it is known to fit (every check before anything is allocated: the block
// allocator's lists too, which a huge --kv-blocks would make first).
const KvCacheShape& checked(const KvCacheShape& shape, DType dtype, const Ops& ops) {
  GQA_CHECK(shape.num_blocks > 0 && shape.block_size > 0 && shape.n_kv_heads_local > 0 && shape.head_dim > 0 &&
                shape.num_layers > 0,
            "invalid KV cache shape");
  GQA_CHECK(shape.block_size <= INT32_MAX / shape.num_blocks,
            "KV cache of " << shape.num_blocks << " blocks x " << shape.block_size << " tokens: more than the "
                           << INT32_MAX << " slots a cache can index; lower --kv-blocks or --block-size");
  if (ops.device() == Device::kCpu) {  // (a GPU's allocation fails by itself, with a message)
    const double bytes = 2.0 * double(shape.num_layers) * double(shape.num_blocks) * double(shape.block_size) *
                         double(shape.n_kv_heads_local) * double(shape.head_dim) * double(dtype_size(dtype));
    const MemoryLimit limit = memory_limit();
    GQA_CHECK(limit.bytes == 0 || bytes <= double(limit.bytes),
              "KV cache of " << shape.num_blocks << " blocks x " << shape.block_size << " tokens (" << std::fixed
                             << std::setprecision(1) << bytes / 1e9 << " GB) exceeds the " << double(limit.bytes) / 1e9
                             << " GB of memory this process may use (" << limit.source()
                             << "): lower --block-size, --kv-blocks or --max-new-tokens");
  }
  return shape;
}

}  // namespace

void PagedKvCache::check_shape(const KvCacheShape& shape, DType dtype, const Ops& ops) { checked(shape, dtype, ops); }

PagedKvCache::PagedKvCache(const KvCacheShape& shape, DType dtype, Ops& ops)
    : shape_(checked(shape, dtype, ops)), allocator_(shape.num_blocks) {
  static std::atomic<uint64_t> next_id{0};
  id_ = ++next_id;
  const Shape s{shape.num_blocks, shape.block_size, shape.n_kv_heads_local, shape.head_dim};
  for (int64_t l = 0; l < shape.num_layers; ++l) {
    k_.push_back(ops.alloc(dtype, s));
    v_.push_back(ops.alloc(dtype, s));
  }
}

int PagedKvCache::add_sequence() {
  const int id = next_seq_++;
  seqs_[id] = Sequence{};
  return id;
}

PagedKvCache::Sequence& PagedKvCache::seq_ref(int seq) {
  auto it = seqs_.find(seq);
  GQA_CHECK(it != seqs_.end(), "KV cache has no sequence " << seq);
  return it->second;
}

const PagedKvCache::Sequence& PagedKvCache::seq_ref(int seq) const {
  auto it = seqs_.find(seq);
  GQA_CHECK(it != seqs_.end(), "KV cache has no sequence " << seq);
  return it->second;
}

void PagedKvCache::free_sequence(int seq) {
  Sequence& s = seq_ref(seq);
  for (int32_t b : s.blocks) allocator_.free(b);
  seqs_.erase(seq);
}

std::vector<int32_t> PagedKvCache::append(int seq, int64_t n) {
  Sequence& s = seq_ref(seq);
  // Positions and slots are int32 (the kernels' indices).
  GQA_CHECK(n >= 0 && n <= INT32_MAX - s.length,
            "KV cache append: " << n << " positions for sequence " << seq << " of length " << s.length
                                << " (must be >= 0, and the length stays below 2^31)");
  const int64_t bs = shape_.block_size;
  const int64_t need = blocks_for(s.length + n) - static_cast<int64_t>(s.blocks.size());
  if (need > allocator_.num_free()) {
    throw KvCacheFull("KV cache is full: sequence " + std::to_string(seq) + " needs " + std::to_string(need) +
                      " more blocks of " + std::to_string(bs) + " tokens, " +
                      std::to_string(allocator_.num_free()) + " of " + std::to_string(allocator_.num_total()) +
                      " are free (raise --kv-blocks or shorten the request)");
  }
  for (int64_t i = 0; i < need; ++i) s.blocks.push_back(allocator_.allocate());
  std::vector<int32_t> slots(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t pos = s.length + i;
    slots[i] = static_cast<int32_t>(s.blocks[pos / bs] * bs + pos % bs);
  }
  s.length += n;
  return slots;
}

int64_t PagedKvCache::length(int seq) const { return seq_ref(seq).length; }

const std::vector<int32_t>& PagedKvCache::block_table(int seq) const { return seq_ref(seq).blocks; }

Tensor PagedKvCache::k(int64_t layer) const {
  GQA_CHECK(layer >= 0 && layer < static_cast<int64_t>(k_.size()),
            "KV cache: no layer " << layer << " (it has " << k_.size() << ")");
  return k_[static_cast<size_t>(layer)];
}

Tensor PagedKvCache::v(int64_t layer) const {
  GQA_CHECK(layer >= 0 && layer < static_cast<int64_t>(v_.size()),
            "KV cache: no layer " << layer << " (it has " << v_.size() << ")");
  return v_[static_cast<size_t>(layer)];
}

}  // namespace gqa
