// How the wgmma prefill's TMA build (attention_prefill_wgmma_kernels.cuh) fills a 128-key K or V
// tile of the 128-byte-swizzled layout (swizzle128_byte, prefill_tile_copy.h) from the paged cache
// [num_blocks, block_size, hkv, hd] with TMA boxes of {64 dims, 1 head, box_rows keys, 1 page}
// (the tensor map of kernels/cuda/tensor_map.h). Host- and device-callable, so
// tests/cuda/host_test_prefill_tma_boxes.cpp checks that the boxes, swizzled as the TMA unit
// swizzles them (by shared-memory address), put every chunk of the tile where the wgmma
// descriptors read it, once.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace gqa::cuda {

constexpr int kTmaTileKeys = 128;  // keys per tile (the prefill's kBlockN)
constexpr int kTmaBoxDims = 64;    // elements per box row: one 128-byte row of a 64-dim half

// Keys per box for pages of block_size keys, or 0 where a tile is not whole boxes of whole
// 1024-byte swizzle atoms (the tile is then copied by cp.async): block sizes 8, 16, 32 and 64
// (a box is a page: 128 / block_size boxes per 64-dim half) and multiples of 128 (a box is a
// 128-key run of a page, from a multiple of 128 within it).
__host__ __device__ constexpr int tma_box_rows(int block_size) {
  if (block_size >= kTmaTileKeys) return block_size % kTmaTileKeys == 0 ? kTmaTileKeys : 0;
  return block_size >= 8 && block_size % 8 == 0 && kTmaTileKeys % block_size == 0 ? block_size : 0;
}

// Boxes per K (or V) tile.
__host__ __device__ constexpr int tma_boxes_per_tile(int box_rows, int hd) {
  return (kTmaTileKeys / box_rows) * (hd / kTmaBoxDims);
}

// Box b of a tile (b < tma_boxes_per_tile): its first key (from the tile's first), its first
// dimension, and the byte of the tile (1024-byte aligned, itself) its row 0 lands at.
struct TmaBox {
  int key, dim;
  uint32_t byte;
};
__host__ __device__ inline TmaBox tma_box(int b, int box_rows, int hd) {
  const int halves = hd / kTmaBoxDims, half = b % halves, run = b / halves;
  return {run * box_rows, half * kTmaBoxDims,
          uint32_t(half) * kTmaTileKeys * 128u + uint32_t(run) * uint32_t(box_rows) * 128u};
}

}  // namespace gqa::cuda
