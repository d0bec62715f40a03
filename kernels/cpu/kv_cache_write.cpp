#include <cstring>

#include "kernels/cpu/cpu_kernels.h"

namespace gqa::cpu {

// k, v: f32 [n, hkv, hd]; k_cache, v_cache: f32 [num_blocks, block_size, hkv, hd];
// slots: i32 [n], flat slot = block * block_size + offset. Because the cache is contiguous,
// slot s is simply row s of the cache viewed as [num_blocks * block_size, hkv, hd].
void kv_write(const KvWriteArgs& a) {
  constexpr const char* kOp = "kv_write";
  detail::expect_kind(a.k, DType::kF32, 3, kOp, "k");
  const int64_t n = a.k.dim(0);
  const int64_t hkv = a.k.dim(1);
  const int64_t hd = a.k.dim(2);
  detail::expect(a.v, DType::kF32, {n, hkv, hd}, kOp, "v");
  detail::expect_kind(a.k_cache, DType::kF32, 4, kOp, "k_cache");
  const int64_t num_blocks = a.k_cache.dim(0);
  const int64_t block_size = a.k_cache.dim(1);
  detail::expect(a.k_cache, DType::kF32, {num_blocks, block_size, hkv, hd}, kOp, "k_cache");
  detail::expect(a.v_cache, DType::kF32, {num_blocks, block_size, hkv, hd}, kOp, "v_cache");
  detail::expect(a.slots, DType::kI32, {n}, kOp, "slots");
  // (the same cache twice would have V overwrite K; k or v inside a cache, rows overwritten before read)
  GQA_CHECK(!overlaps(a.k_cache, a.v_cache), kOp << ": k_cache and v_cache overlap");
  GQA_CHECK(!overlaps(a.k, a.k_cache) && !overlaps(a.k, a.v_cache) && !overlaps(a.v, a.k_cache) &&
                !overlaps(a.v, a.v_cache),
            kOp << ": k or v overlaps a cache");

  const int64_t num_slots = num_blocks * block_size;
  const int64_t row = hkv * hd;
  const size_t row_bytes = static_cast<size_t>(row) * sizeof(float);
  const int32_t* slots = a.slots.data_as<int32_t>();
  for (int64_t t = 0; t < n; ++t) {
    const int64_t slot = slots[t];
    GQA_CHECK(slot >= 0 && slot < num_slots, kOp << ": slot " << slot << " of token " << t
                                                 << " is outside the cache " << shape_str(a.k_cache.shape())
                                                 << " (" << num_slots << " slots)");
    std::memcpy(a.k_cache.data_as<float>() + slot * row, a.k.data_as<float>() + t * row, row_bytes);
    std::memcpy(a.v_cache.data_as<float>() + slot * row, a.v.data_as<float>() + t * row, row_bytes);
  }
}

}  // namespace gqa::cpu
