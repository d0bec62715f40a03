// Causal flash prefill on Hopper warpgroup MMA (see attention_prefill_wgmma.h): the TMA build's
// K/V loads and its kernel parameters, in the anonymous namespace of the file that includes it
// (attention_prefill_wgmma_kernels.cuh, and through it attention_prefill_wgmma_tma_probe.cu).
#pragma once

#include <cuda/ptx>

#include "kernels/cuda/attention_prefill_wgmma_tiles.cuh"
#include "kernels/cuda/prefill_tma_boxes.h"
#include "kernels/cuda/tensor_map.h"

namespace gqa::cuda {
namespace {

// ---- the TMA build (set_prefill_wgmma_tma): the swizzle build whose producers load every K/V tile
// that lies wholly below the pass's end by TMA (FlashAttention-3's loads): the tile's boxes
// (prefill_tma_boxes.h: a box is a page's keys, or a 128-key run of a page, of one 64-dim half; 32
// K and V copies a tile at 16-key pages and hd 128) dealt round the 4 producer warps, whose lanes
// ptxas issues one after another (UTMALDG takes uniform registers); the TMA unit writes them
// swizzled and counts their bytes on full[stage] (complete_tx). full[stage] expects the 128
// producer threads' arrivals, as in the other producer builds: on a TMA tile thread 0's carries the
// tile's byte count (arrive.expect_tx), the others' are plain. A box of a bad block-table entry is
// asked for at page num_blocks, out of the tensor map's bounds: the TMA unit fills it with zeros,
// as the cp.async copies zero-fill such keys, and the box's first key is recorded as the others
// record theirs. The tile holding the pass's end, whose keys past the end must be zeros rather
// than whatever the page holds, and every tile where the block size gives no whole boxes
// (tma_box_rows 0), are copied as the swizzle build copies them (each thread's
// cp.async.mbarrier.arrive.noinc is its arrival, once its copies landed). The consumers fence the
// async proxy only after such a tile: TMA's writes are the async proxy's.

// The kernel's extra parameters: the K and V caches' descriptors (tensor_map.h) and the keys per
// box (tma_box_rows; 0: every tile by cp.async).
struct TmaSource {
  CUtensorMap k, v;
  int box_rows;
};
struct TmaPrefillParams {
  PrefillParams p;
  TmaSource tma;
};

// The K and V descriptors into the cache before the first copy needs them (CUTLASS and
// FlashAttention-3 do the same): generic addresses of the __grid_constant__ parameter. One thread,
// where src has descriptors (box_rows > 0).
__device__ __forceinline__ void prefetch_tma_maps(const TmaSource& src) {
  asm volatile("prefetch.tensormap [%0];" ::"l"(&src.k) : "memory");
  asm volatile("prefetch.tensormap [%0];" ::"l"(&src.v) : "memory");
}

// Whether the TMA build loads tile j of a pass ending at key `end` by TMA (else by cp.async).
__device__ __forceinline__ bool tile_by_tma(const TmaSource& src, int j, int end) {
  return src.box_rows > 0 && (j + 1) * kBlockN <= end;
}

// A producer thread's arrival on `full` for a tile pair or one tile of `bytes` by TMA: thread 0's
// carries the byte count (arrive.expect_tx), the others' are plain. (The phase cannot complete
// before thread 0 has added the count: its arrival is one of the 128 expected; copies landing
// before that take the count below zero, which is allowed.)
__device__ __forceinline__ void tma_tile_arrival(uint64_t* full, uint32_t bytes, int tid) {
  namespace ptx = ::cuda::ptx;
  if (tid == 0) {
    (void)ptx::mbarrier_arrive_expect_tx(ptx::sem_release, ptx::scope_cta, ptx::space_shared, full, bytes);
  } else {
    (void)ptx::mbarrier_arrive(full);
  }
}

// One TMA box of keys [start + box.key, ...) of KV head g from `map` (the K or the V cache) into the
// tile at `tile`, counted on `full`; a bad block-table entry is asked for at page num_blocks (zeros)
// and, where `record` (a K box: its V box's record is the K box's), its first key goes to bad_key.
__device__ __forceinline__ void tma_box_copy(const PrefillParams& p, const CUtensorMap* map, const int32_t* table,
                                             int g, int start, const TmaBox& box, unsigned char* tile, uint64_t* full,
                                             int* bad_key, bool record) {
  const int key = start + box.key, column = p.page_index(key);
  int page = table[column];
  if (!p.page_in_cache(page)) {
    if (record) atomicMin(bad_key, key);
    page = p.num_blocks;  // out of bounds: zeros
  }
  const int32_t at[4] = {box.dim, g, key - column * p.block_size, page};  // dim, head, key in page, page
  ::cuda::ptx::cp_async_bulk_tensor(::cuda::ptx::space_cluster, ::cuda::ptx::space_global, tile + box.byte, map, at,
                                    full);
}

// A producer thread (tid: 0-127): its arrival on `full` (thread 0's with the K and V tiles' bytes)
// and its share of the copies of keys [start, start + kBlockN) of KV head g into one K and one V
// tile by TMA: copy x (box x / 2, of V when x is odd) goes to warp x % 4, so each warp issues a
// quarter; the K boxes record bad keys.
template <typename T, int HD>
__device__ __forceinline__ void tma_kv_tile(const PrefillParams& p, const TmaSource& src, const int32_t* table, int g,
                                            int start, unsigned char* k_dst, unsigned char* v_dst, uint64_t* full,
                                            int* bad_key, int tid) {
  static_assert(kProducerThreads == 128, "copies dealt round 4 warps");
  tma_tile_arrival(full, uint32_t(2 * WgSmem<T, HD>::kTileBytes), tid);
  const int copies = 2 * tma_boxes_per_tile(src.box_rows, HD);  // <= 64
  for (int x = (tid % 32) * 4 + tid / 32; x < copies; x += kProducerThreads) {
    tma_box_copy(p, x % 2 ? &src.v : &src.k, table, g, start, tma_box(x / 2, src.box_rows, HD), x % 2 ? v_dst : k_dst,
                 full, bad_key, x % 2 == 0);
  }
}

// tma_kv_tile for one of the two tiles (the persistent build hands K and V over apart): the K tile
// (kValues false, recording bad keys as tma_kv_tile does) or the V tile (no record: its K tile's
// copies make it), `full` counting that tile's bytes.
template <typename T, int HD, bool kValues>
__device__ __forceinline__ void tma_one_tile(const PrefillParams& p, const TmaSource& src, const int32_t* table, int g,
                                             int start, unsigned char* dst, uint64_t* full, int* bad_key, int tid) {
  tma_tile_arrival(full, uint32_t(WgSmem<T, HD>::kTileBytes), tid);
  const int copies = tma_boxes_per_tile(src.box_rows, HD);  // <= 32
  for (int x = (tid % 32) * 4 + tid / 32; x < copies; x += kProducerThreads) {
    tma_box_copy(p, kValues ? &src.v : &src.k, table, g, start, tma_box(x, src.box_rows, HD), dst, full, bad_key,
                 !kValues);
  }
}

}  // namespace
}  // namespace gqa::cuda
