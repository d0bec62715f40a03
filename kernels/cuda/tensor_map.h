// TMA descriptors (CUtensorMap) for the wgmma prefill's TMA build: one per K or V cache of a call.
// Encoded on the host through the driver's cuTensorMapEncodeTiled, fetched by
// cudaGetDriverEntryPointByVersion (no link against libcuda), and passed to the kernel as a
// __grid_constant__ parameter.
#pragma once

#include <cuda.h>

#include <cstdint>

namespace gqa::cuda {

// A paged cache [num_blocks, block_size, hkv, hd] of 16-bit elements (bf16 when `bf16`, else f16)
// at `base`, read in boxes of {64 dims, 1 head, box_rows keys, 1 page} into 128-byte-swizzled
// shared memory (the layout of prefill_tma_boxes.h), with zeros for every element of a box out of
// bounds (a page index past num_blocks: how the kernel loads a bad block-table entry's page).
struct PagedCacheMap {
  const void* base;
  bool bf16;
  int64_t num_blocks, block_size, hkv, hd;
  int box_rows;
};

// Whether `m` can be encoded: base 16-byte aligned, hd a multiple of 64, box_rows in [1, 256] and
// at most block_size, every dimension in [1, 2^32] (the strides are then multiples of 16 bytes).
bool paged_cache_map_encodable(const PagedCacheMap& m);

// The descriptor for `m` (paged_cache_map_encodable). Throws gqa::Error naming the driver call and
// its result where the entry point is missing or the encoding fails.
CUtensorMap encode_paged_cache_map(const PagedCacheMap& m);

}  // namespace gqa::cuda
