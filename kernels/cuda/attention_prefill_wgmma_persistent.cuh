// Causal flash prefill on Hopper warpgroup MMA (see attention_prefill_wgmma.h): the persistent
// build (set_prefill_wgmma_persistent), in the anonymous namespace of the file that includes it
// (attention_prefill_wgmma.cu, after attention_prefill_wgmma_kernels.cuh, whose pieces it runs).
//
// Why: every other build launches a block per 128 packed rows, and each block pays its start (the
// barriers' set-up, the rows' bookkeeping, the q tile's load, the first K/V tiles' latency) and its
// end (the last P V, the output's stores) with the tensor cores idle. A fit of run 10's rows gave
// ~15-19 us of such cost a block at 8K (docs/STATUS.md), where a block has ~32 tiles of ~1.9 us;
// an 8K prompt in 4K chunks has 512 blocks on 132 SMs. FlashAttention-3's answer is a persistent
// schedule: one block an SM, looping over the row blocks ("items"), its producers loading the next
// item's q and first K/V tiles while its consumers still finish the current one.
//
// The block: the TMA build's overlap variant (tma_overlap, the default build: producers load the
// K/V tiles by TMA or cp.async, each consumer warpgroup's softmax runs under its own previous P V,
// the two warpgroups take turns at the tensor cores) with these changes:
// - grid: min(items, SMs) blocks (prefill_persistent_grid). Items are numbered as the other builds
//   number their blocks (KV head fastest, the heaviest row block first); block c takes item
//   k * G + c in even rounds k and k * G + (G - 1 - c) in odd ones (G the grid; zigzag_item,
//   persistent_schedule.h): the heaviest of one round is paired with the lightest of the next,
//   which for a causal prompt's linearly falling work gives each block about the same sum (the
//   hardware's block scheduler, which the other builds rely on, is not there to balance it).
// - two q buffers and two K/V stages (192 KB at head_dim 128; three stages and one q, the
//   other TMA builds' 224 KB, leave no room for a second q). The producers load item i + 1's q
//   into the other buffer while the consumers still compute item i, and with it the rows'
//   bookkeeping for the consumers (rows_c[b]: the rows' sequences and positions, read from global
//   memory off the consumers' path). q_full[b] completes on the q copies' 128 cp.async arrivals
//   and the producers' 128 plain ones (a release: their rows_c[b] writes); q_empty[b] on the 256
//   consumers' arrivals once they have stored item i's output (their last read of rows_c[b]).
// - each stage's K and V tiles handed over apart (produce_pass's and overlap_pass's kSplitKv,
//   FlashAttention-3's way with two stages). In the overlap a stage's tiles are in use from tile
//   i - 1's S to the end of its P V in tile i's turn, so with whole stages tile i + 1 could not
//   start loading before both warpgroups ended tile i, its latency then exposed on every tile.
//   Apart, and with K of tile i + 1 issued before V of tile i, tile i + 1's K loads once S of
//   tile i - 1 has completed (about a tile and a half before its own S) and its V once P V of
//   tile i - 1 has (a tile before its own P V).
// - no block-wide barrier after the set-up: the producers and the consumers each keep their own
//   copy of the rows' bookkeeping and pick the same passes from it (the same rows, the same
//   pick_next_pass_warp), under named barriers of their own (kConsumerBar: 256 threads,
//   kProducerBar: 128). So the producers run ahead into the next pass and the next item as far as
//   free stages allow.
//   (The slot and tile counting below hold as written for the K tiles; a V tile is loaded after
//   its K tile, so the V side is never further ahead.)
// - a pass's bad block-table keys (the producers' records) reach the consumers through a ring of
//   kPassSlots slots, each with an mbarrier (pass_done) the 128 producers arrive on after the
//   pass's copies were issued (a release: their records before it). The producers are at most
//   kStages tiles ahead of the consumers, and every pass has at least one tile, so a slot is
//   written again only after the consumers have read it (kPassSlots > kStages + 1).
// The tiles and the arithmetic on them are the tma_overlap build's (overlap_pass), so its output is
// meant to equal that build's bit for bit (tests/cuda/test_attention_prefill_wgmma.cpp checks it;
// unrun on a GPU when written).
#pragma once

#include <cuda/ptx>

#include <climits>
#include <cmath>

#include "kernels/cuda/attention_prefill_wgmma_kernels.cuh"
#include "kernels/cuda/persistent_schedule.h"

namespace gqa::cuda {
namespace {

constexpr int kPersistentStages = 2;
constexpr int kPersistentQBuffers = 2;
constexpr int kPassSlots = 8;
static_assert(kPassSlots > kPersistentStages + 1, "a pass slot outlives the passes the producers can run ahead");
constexpr int kConsumerBar = 3, kProducerBar = 4;  // (0: __syncthreads; 1, 2: warpgroup_any)
// The setmaxnreg split: the producers' loops over items, passes and K and V apart held more than
// the other builds' 40 registers (ptxas spilled 20 bytes at head_dim 128); the consumers fit in 224.
constexpr int kPersistentProducerRegs = 56, kPersistentConsumerRegs = 224;
// (the launch's check, register_split_holds, is written for the other builds' split: the same total)
static_assert(kPersistentProducerRegs * 32 + kPersistentConsumerRegs * 64 == kProducerRegs * 32 + kConsumerRegs * 64,
              "the sub-partition's registers at launch, as register_split_holds counts them");

// bar.sync on named barrier kId for kCount threads (every one of them must call it).
template <int kId, int kCount>
__device__ __forceinline__ void named_bar_sync() {
  asm volatile("bar.sync %0, %1;" ::"n"(kId), "n"(kCount) : "memory");
}

// The persistent build's bookkeeping (after the tiles, in dynamic shared memory).
struct PersistentBook {
  PrefillRowInfo<kBlockM> rows_c[kPersistentQBuffers];  // the consumers' copy, item i's in rows_c[i % 2]
  PrefillRowInfo<kBlockM> rows_p;                         // the producers'
  int bad_key[kPassSlots];         // pass s: slot s % kPassSlots
  // (a stage's K tile by full/empty, its V tile by full_v/empty_v: produce_pass's kSplitKv)
  alignas(8) uint64_t full[kPersistentStages], empty[kPersistentStages], turn[2];
  uint64_t full_v[kPersistentStages], empty_v[kPersistentStages];
  uint64_t q_full[kPersistentQBuffers], q_empty[kPersistentQBuffers], pass_done[kPassSlots];
};

template <typename T, int HD>
struct PersistentSmem {
  using S = WgSmem<T, HD>;
  static constexpr size_t kTileBytes = kPersistentQBuffers * S::kQBytes + 2 * kPersistentStages * S::kTileBytes;
  // the tiles from the first 1024-byte-aligned address (the 128-byte swizzle's atoms), then the book
  static constexpr size_t kDynamicBytes = kTileBytes + sizeof(PersistentBook) + 1024 - 16;
  static_assert(kDynamicBytes <= 232448, "shared memory past 227 KB per block");
};

// The item-th row block: its KV head and first packed row (the other builds' block numbering:
// the KV head fastest, the heaviest row block, the last one, first).
__device__ __forceinline__ void persistent_item(const PrefillParams& p, int item, int& g, int& row0) {
  const int per_head = (p.rows + kBlockM - 1) / kBlockM;
  g = item % p.hkv;
  row0 = (per_head - 1 - item / p.hkv) * kBlockM;
}

// This block's item in round k of `items` (-1 where round k has none for it): persistent_schedule.h.
__device__ __forceinline__ int persistent_item_at(int k, int items) {
  return zigzag_item(k, static_cast<int>(blockIdx.x), static_cast<int>(gridDim.x), items);
}

// The next pass of `rows` picked by the first warp of the kBy threads (lanes 0-31 of that warp:
// pick_next_pass_warp) between two named barriers kBar of them: false when every row is done.
template <int kBar, int kBy>
__device__ __forceinline__ bool persistent_pick(PrefillRowInfo<kBlockM>& rows, bool first_warp, int& seq, int& end) {
  named_bar_sync<kBar, kBy>();  // the previous pass's done marks (and the rows' set-up) are in
  if (first_warp) pick_next_pass_warp<kBlockM>(rows);
  named_bar_sync<kBar, kBy>();
  seq = rows.pass_seq;
  end = rows.pass_end;
  return seq >= 0;
}

// The producers (tid 0-127): for each item, its q and the consumers' row bookkeeping into buffer
// item % 2 once the consumers are done with the item two before, then every pass's K/V tiles
// (produce_pass, the TMA build's).
template <typename T, int HD>
__device__ __forceinline__ void persistent_produce(const PrefillParams& p, const TmaSource& tma, PersistentBook& book,
                                                   unsigned char* q_s, unsigned char* k_s, unsigned char* v_s,
                                                   int items) {
  using S = WgSmem<T, HD>;
  const int tid = static_cast<int>(threadIdx.x) - kThreads;
  if (tid == 0 && tma.box_rows > 0) prefetch_tma_maps(tma);
  PrefillRowInfo<kBlockM>& rows = book.rows_p;
  int tiles = 0, passes = 0, n = 0;  // n: this block's items so far
  for (int k = 0; k * static_cast<int>(gridDim.x) < items; ++k) {
    const int item = persistent_item_at(k, items);
    if (item < 0) continue;
    int g, row0;
    persistent_item(p, item, g, row0);
    named_bar_sync<kProducerBar, kProducerThreads>();  // every producer is past the last pick's reads
    const int b = n % kPersistentQBuffers;
    if (n >= kPersistentQBuffers) mbarrier_wait(&book.q_empty[b], uint32_t((n / kPersistentQBuffers - 1) & 1));
    const int r = row0 + tid;
    init_pass_row(p, rows, tid, r < p.rows, r / p.group);
    PrefillRowInfo<kBlockM>& theirs = book.rows_c[b];
    theirs.seq[tid] = rows.seq[tid];
    theirs.pos[tid] = rows.pos[tid];
    theirs.done[tid] = rows.done[tid];
    load_q_tile<T, HD, true, kProducerThreads>(p, g, row0, q_s + b * S::kQBytes, tid);
    cp_async_arrive(&book.q_full[b]);                     // once this thread's q copies have landed
    (void)::cuda::ptx::mbarrier_arrive(&book.q_full[b]);  // its rows_c[b] writes
    cp_async_commit();
    int seq, end;
    while (persistent_pick<kProducerBar, kProducerThreads>(rows, tid < 32, seq, end)) {
      const int slot = passes % kPassSlots;
      // the slot's reset, then a barrier: before any producer's record of this pass
      if (tid == 0) book.bad_key[slot] = INT_MAX;
      named_bar_sync<kProducerBar, kProducerThreads>();
      const int32_t* table = p.block_tables + size_t(seq) * p.max_blocks;
      const int n_tiles = (end + kBlockN - 1) / kBlockN;
      produce_pass<T, HD, kPersistentStages, 0, true, true, true>(p, &tma, table, g, end, n_tiles, tiles, k_s, v_s,
                                                                 book.full, book.empty, &book.bad_key[slot],
                                                                 book.full_v, book.empty_v);
      tiles += n_tiles;
      (void)::cuda::ptx::mbarrier_arrive(&book.pass_done[slot]);  // this thread's records of the pass are in
      mark_row_done(rows, tid, seq);                              // (kProducerThreads == kBlockM: a row each)
      ++passes;
    }
    ++n;
  }
  cp_async_wait<0>();  // no copy of a thread outlives it
}

// The consumers (threads 0-255, two warpgroups): each item's passes as the tma_overlap build runs
// a block's, its q from buffer item % 2, then its output.
template <typename T, int HD>
__device__ __forceinline__ void persistent_consume(const PrefillParams& p, const TmaSource& tma, PersistentBook& book,
                                                   const unsigned char* q_s, const unsigned char* k_s,
                                                   const unsigned char* v_s, int items, int group) {
  using S = WgSmem<T, HD>;
  Turns turns{book.turn, group};
  if (group == 1) turns.pass();  // warpgroup 0 takes the first turn
  int tiles = 0, passes = 0, n = 0;
  for (int k = 0; k * static_cast<int>(gridDim.x) < items; ++k) {
    const int item = persistent_item_at(k, items);
    if (item < 0) continue;
    int g, row0;
    persistent_item(p, item, g, row0);
    float o[HD / 8][4];
#pragma unroll
    for (int dt = 0; dt < HD / 8; ++dt) o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    bool bad[2] = {false, false};
    const int b = n % kPersistentQBuffers;
    mbarrier_wait(&book.q_full[b], uint32_t((n / kPersistentQBuffers) & 1));  // q and the rows are in
    wg::fence_proxy_async();  // the producers' cp.async copies of q, before this thread's wgmma reads them
    PrefillRowInfo<kBlockM>& rows = book.rows_c[b];
    const unsigned char* q_wg = q_s + b * S::kQBytes + size_t(group) * 64 * 128;  // (swizzled: first 64-dim half)
    int seq, end;
    while (persistent_pick<kConsumerBar, kThreads>(rows, threadIdx.x < 32, seq, end)) {
      int limit[2];
      (void)pass_limits(rows, seq, limit);
      const int n_tiles = (end + kBlockN - 1) / kBlockN;  // >= 1: a row's position is >= 0
      overlap_pass<T, HD, kPersistentStages, true, true, Turns, true>(q_wg, k_s, v_s, book.full, book.empty, turns,
                                                                      tiles, n_tiles, limit, p.scale_log2,
                                                                      p.rescale_slack, o, m, l, &tma, end, book.full_v,
                                                                      book.empty_v);
      tiles += n_tiles;
      const int slot = passes % kPassSlots;
      mbarrier_wait(&book.pass_done[slot], uint32_t((passes / kPassSlots) & 1));
      finish_pass(rows, seq, limit, bad, book.bad_key[slot]);
      ++passes;
    }
    store_rows<T, HD, kBlockM>(p, rows, g, row0, o, l, bad);
    // this thread's last wgmma on this q has completed, and its last read of these rows is done
    (void)::cuda::ptx::mbarrier_arrive(&book.q_empty[b]);
    ++n;
  }
}

// The persistent build's kernel (a __grid_constant__ parameter: the TMA unit reads the descriptors
// from the kernel's parameter space).
template <typename T, int HD>
__global__ void __launch_bounds__(kThreads + kProducerThreads, 1)
    prefill_wgmma_persistent_kernel(const __grid_constant__ TmaPrefillParams tp) {
  using S = WgSmem<T, HD>;
  static_assert(kProducerThreads == kBlockM, "a producer thread a row of the producers' bookkeeping");
  const PrefillParams& p = tp.p;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  unsigned char* q_s = wg::aligned_1024(smem_raw);
  unsigned char* k_s = q_s + kPersistentQBuffers * S::kQBytes;  // [kPersistentStages] tiles
  unsigned char* v_s = k_s + kPersistentStages * S::kTileBytes;  // [kPersistentStages] tiles
  PersistentBook& book = *reinterpret_cast<PersistentBook*>(q_s + PersistentSmem<T, HD>::kTileBytes);
  const int items = p.hkv * ((p.rows + kBlockM - 1) / kBlockM);
  if (threadIdx.x == 0) {
    namespace ptx = ::cuda::ptx;
    for (int st = 0; st < kPersistentStages; ++st) {
      ptx::mbarrier_init(&book.full[st], kProducerThreads);
      ptx::mbarrier_init(&book.empty[st], kThreads);
      ptx::mbarrier_init(&book.full_v[st], kProducerThreads);
      ptx::mbarrier_init(&book.empty_v[st], kThreads);
    }
    for (int w = 0; w < 2; ++w) ptx::mbarrier_init(&book.turn[w], kThreads / 2);
    for (int b = 0; b < kPersistentQBuffers; ++b) {
      ptx::mbarrier_init(&book.q_full[b], 2 * kProducerThreads);  // the q copies' and the rows' arrivals
      ptx::mbarrier_init(&book.q_empty[b], kThreads);
    }
    for (int s = 0; s < kPassSlots; ++s) ptx::mbarrier_init(&book.pass_done[s], kProducerThreads);
    ptx::fence_mbarrier_init(ptx::sem_release, ptx::scope_cluster);
  }
  __syncthreads();  // the barriers are initialised (the block's only block-wide barrier)
  const int group = warp_uniform(static_cast<int>(threadIdx.x / 128));  // 2: the producers
  if (group == 2) {
    set_max_regs_dec<kPersistentProducerRegs>();
    persistent_produce<T, HD>(p, tp.tma, book, q_s, k_s, v_s, items);
    return;
  }
  set_max_regs_inc<kPersistentConsumerRegs>();
  persistent_consume<T, HD>(p, tp.tma, book, q_s, k_s, v_s, items, group);
}

template <typename T, int HD>
constexpr auto kPersistentKernel = prefill_wgmma_persistent_kernel<T, HD>;

// The persistent build's grid for p: one block an SM (at most `cap` where cap > 0), at most one an item.
inline unsigned prefill_persistent_grid(const PrefillParams& p, int sm_count, int cap) {
  const unsigned items = prefill_grid(p, kBlockM, kOp);
  const int limit = cap > 0 && cap < sm_count ? cap : sm_count;
  return items < unsigned(limit) ? items : unsigned(limit);
}

}  // namespace
}  // namespace gqa::cuda
