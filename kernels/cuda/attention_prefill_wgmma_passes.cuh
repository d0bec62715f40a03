// Causal flash prefill on Hopper warpgroup MMA (see attention_prefill_wgmma.h): the ping-pong
// builds' parts below their kernels (attention_prefill_wgmma_kernels.cuh): the tensor-core turns,
// the producer warpgroup's passes and the consumers' passes of the producer and overlap builds; in
// the anonymous namespace of the file that includes them.
#pragma once

#include <cuda/ptx>

#include <cmath>
#include <type_traits>

#include "kernels/cuda/attention_prefill_wgmma_tiles.cuh"
#include "kernels/cuda/attention_prefill_wgmma_tma.cuh"

namespace gqa::cuda {
namespace {

// ---- the ping-pong build (set_prefill_wgmma_pingpong) ----
// The basic kernel's __syncthreads per tile keeps both warpgroups in step: both issue their
// GEMMs at once and both run softmax at once, leaving the tensor cores idle meanwhile. Here the
// stages (3: tiles loaded two ahead) are handed over by mbarriers instead (full[s]: every
// thread's copies of the tile in stage s have landed, via cp.async.mbarrier.arrive.noinc;
// empty[s]: every thread is done with it), and two more (Turns) give the warpgroups turns at
// issuing tensor-core work, so one's softmax
// runs under the other's GEMMs (FlashAttention-3's ping-pong): WG0 QK, WG1 QK, WG0 PV, WG1 PV, WG0
// QK of the next tile, ... A warpgroup that skips a tile's math (causal) still takes and passes
// its turns. A tile's copies are issued after softmax, under the other's GEMMs. Tiles are
// counted across passes (`tiles`), so the mbarriers' phases carry over from pass to pass.
// Turns: warpgroup w waits for phase (its turns taken so far) & 1 of turn[w], which completes when
// the 128 threads of the other warpgroup have passed (arrived on it). mbarriers rather than
// named barriers so that every wait in this kernel has the watchdog of mbarrier_wait: a turn-
// keeping mistake traps instead of hanging.
// (kKeep false: the turn-keeping left out, the kAblateTurns timing aid; then both warpgroups issue
// whenever they are ready.)
template <bool kKeep>
struct TurnKeeper {
  uint64_t* bar;  // turn[2] in shared memory
  int group;
  uint32_t taken = 0;
  __device__ __forceinline__ void wait() {
    if constexpr (kKeep) mbarrier_wait(&bar[group], taken++ & 1);
  }
  __device__ __forceinline__ void pass() {
    if constexpr (kKeep) (void)::cuda::ptx::mbarrier_arrive(&bar[1 - group]);
  }
};
using Turns = TurnKeeper<true>;

// Whether pred holds in any thread of consumer warpgroup `group` (0 or 1: its 128 threads, named
// barrier 1 + group; barrier 0 is __syncthreads'): the same answer in all of them, so a branch on
// it keeps the warpgroup's .aligned wgmma instructions together. Every thread of the warpgroup
// must call it. (Barrier ids as immediates: a register id would make ptxas reserve all 16.)
template <int kBarrier>
__device__ __forceinline__ bool bar_red_or(bool pred) {
  int any = 0;
  asm volatile(
      "{\n .reg .pred p, q;\n setp.ne.s32 p, %1, 0;\n barrier.cta.red.or.pred q, %2, 128, p;\n selp.s32 %0, 1, 0, q;\n}"
      : "=r"(any)
      : "r"(static_cast<int>(pred)), "n"(kBarrier)
      : "memory");
  return any != 0;
}
__device__ __forceinline__ bool warpgroup_any(bool pred, int group) {
  return group == 0 ? bar_red_or<1>(pred) : bar_red_or<2>(pred);
}

// Arrives on `bar` once every cp.async this thread issued so far has landed.
__device__ __forceinline__ void cp_async_arrive(uint64_t* bar) {
  const unsigned addr = static_cast<unsigned>(__cvta_generic_to_shared(bar));
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];" ::"r"(addr) : "memory");
}

// ---- the producer build (set_prefill_wgmma_producer): the ping-pong kernel plus a third
// warpgroup that does all the copying (FlashAttention-3's warp specialisation, with cp.async
// instead of TMA). The consumer warpgroups then issue no copy and no address arithmetic; the
// producers copy tile t into stage t % kStages once the consumers have released the stage (empty)
// and arrive on full[stage] through cp.async.mbarrier.arrive.noinc (128 arrivals, each once the
// thread's copies so far have landed), so they never wait for their own copies and every free
// stage is filled at once. The consumers fence the async proxy after the full wait, as in the
// ping-pong build; with no copy of their own in flight that fence (MEMBAR.ALL.CTA in SASS) has
// nothing to wait for. (Handing a tile over from the producers' side, after their own
// wait_group, would hold each tile back until the next one's copies were issued: with the
// overlap build holding two stages, that locked the warpgroups in step.)
// Registers: 384 threads put 3 warps on each SM sub-partition (16K registers): 168 each at
// launch; then the producers give theirs down to kProducerRegs and the consumers take
// kConsumerRegs (setmaxnreg; 40 x 32 + 232 x 64 = 16128 per sub-partition, as at launch; the
// launch checks that ptxas gave the kernel those 168; kProducerThreads, kProducerRegs and
// kConsumerRegs: attention_prefill_wgmma_tiles.cuh).

template <int kRegs>
__device__ __forceinline__ void set_max_regs_dec() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegs));
#endif
}
template <int kRegs>
__device__ __forceinline__ void set_max_regs_inc() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegs));
#endif
}

// Which of the pass's n_tiles tiles a block takes i-th: i, or with kRotateTiles (i + blockIdx) % n.
template <unsigned kSkip>
__device__ __forceinline__ int pass_tile(int i, int n_tiles) {
  if constexpr (kSkip & kRotateTiles) {
    const int j = i + static_cast<int>(blockIdx.x % static_cast<unsigned>(n_tiles));
    return j < n_tiles ? j : j - n_tiles;
  } else {
    return i;
  }
}

// v, as a value the compiler cannot see through (so it cannot hoist what is computed from it).
__device__ __forceinline__ int opaque_int(int v) {
  asm volatile("mov.b32 %0, %0;" : "+r"(v));
  return v;
}

// kSplitKv (the persistent build, TMA tiles in order): the K and V tiles of a stage handed over
// apart, K by full/empty and V by full_v/empty_v, so that a stage's K tile is loaded again once
// the consumers' S = q K^T has read it, not only after their P V (see overlap_pass).
template <typename T, int HD, int kStages, unsigned kSkip, bool kSwizzle, bool kTma, bool kSplitKv = false>
__device__ __forceinline__ void produce_pass(const PrefillParams& p, const TmaSource* tma, const int32_t* table, int g,
                                             int end, int n_tiles, int tiles, unsigned char* k_s, unsigned char* v_s,
                                             uint64_t* full, uint64_t* empty, int* bad_key, uint64_t* full_v = nullptr,
                                             uint64_t* empty_v = nullptr) {
  using S = WgSmem<T, HD>;
  using Copy = std::conditional_t<kSwizzle, SwizzleTileCopy<HD, kBlockN, kProducerThreads>,
                                  CoreTileCopy<HD, kBlockN, kProducerThreads>>;
  static_assert(!kSplitKv || (kTma && kSwizzle && kSkip == 0), "K and V apart: the TMA build's tiles, in order");
  const int tid = static_cast<int>(threadIdx.x) - kThreads;
  if constexpr (kSplitKv) {
    // One tile of the pass's tile i (kValue: V, else K) into its stage once that stage's previous
    // tile of the kind has been used, by TMA or (the pass's last tile, or every tile without TMA
    // boxes) as the swizzle build copies it; the arrival on its barrier once this thread's copies
    // so far have landed.
    const auto load = [&](auto value, int i) {
      constexpr bool kValue = decltype(value)::value;
      const int t = tiles + i, st = t % kStages;
      uint64_t* bar = (kValue ? full_v : full) + st;
      if (t >= kStages) mbarrier_wait((kValue ? empty_v : empty) + st, uint32_t((t / kStages - 1) & 1));
      unsigned char* k_t = k_s + st * S::kTileBytes;
      unsigned char* v_t = v_s + st * S::kTileBytes;
      if (tile_by_tma(*tma, i, end)) {
        // (after the wait: the stage's previous tile may have been this thread's cp.async one)
        if (t >= kStages) wg::fence_proxy_async();
        tma_one_tile<T, HD, kValue>(p, *tma, table, g, i * kBlockN, kValue ? v_t : k_t, bar, bad_key, tid);
      } else {
        copy_kv_tile<T, HD, Copy, kValue ? kKvValues : kKvKeys>(p, table, g, i * kBlockN, end, k_t, v_t, bad_key,
                                                               opaque_int(tid));
        cp_async_arrive(bar);
        cp_async_commit();
      }
    };
    // K of tile i, then V of tile i - 1 (the consumers need tile i's K for its S and tile i - 1's V
    // for the P V in the same turn): a K tile waits only for the S two tiles before it, not behind
    // a V tile that waits for the P V two before that
    for (int i = 0; i <= n_tiles; ++i) {
      if (i < n_tiles) load(std::false_type{}, i);
      if (i > 0) load(std::true_type{}, i - 1);
    }
  } else {
    for (int i = 0; i < n_tiles; ++i) {
      const int t = tiles + i, st = t % kStages;
      const int j = pass_tile<kSkip>(i, n_tiles);
      if (t >= kStages) mbarrier_wait(&empty[st], uint32_t((t / kStages - 1) & 1));  // its previous tile's use
      unsigned char* k_t = k_s + st * S::kTileBytes;
      unsigned char* v_t = v_s + st * S::kTileBytes;
      if constexpr (kTma && (kSkip & kAblateCopies)) {  // (the timing aid: the stage handed over as it is)
        cp_async_arrive(&full[st]);
        cp_async_commit();
        continue;
      } else if constexpr (kTma) {
        if (tile_by_tma(*tma, j, end)) {
          // (the stage's previous tile may have been a cp.async one: its generic-proxy writes ordered
          // before these async-proxy ones in this thread too, not only through the consumers' fence)
          if (t >= kStages) wg::fence_proxy_async();
          tma_kv_tile<T, HD>(p, *tma, table, g, j * kBlockN, k_t, v_t, &full[st], bad_key, tid);
          continue;
        }
        // (tid through an opaque move: the copies' per-thread offsets are then worked out here, once
        // a pass, instead of hoisted out of the loop, where they outlived the producers' 40 registers
        // and spilled)
        copy_kv_tile<T, HD, Copy>(p, table, g, j * kBlockN, end, k_t, v_t, bad_key, opaque_int(tid));
        cp_async_arrive(&full[st]);
        cp_async_commit();  // (only for the drain before the producers exit)
        continue;
      }
      if constexpr (!(kSkip & kAblateCopies)) {
        copy_kv_tile<T, HD, Copy>(p, table, g, j * kBlockN, end, k_t, v_t, bad_key, tid);
      }
      cp_async_arrive(&full[st]);
      cp_async_commit();  // (only for the drain before the producers exit)
    }
  }
}

// The producers' whole part of a block (after giving registers back): every pass's copies, in
// step with the consumers' barriers (next_pass's three, and one at each pass's end). No code of
// the consumers' is shared after setmaxnreg, so ptxas can hold this warpgroup to kProducerRegs.
template <typename T, int HD, int kStages, unsigned kSkip, bool kSwizzle, bool kTma>
__device__ __forceinline__ void produce(const PrefillParams& p, const TmaSource* tma, PrefillRowInfo<kBlockM>& ri,
                                        int (&warp_limits)[kWarps], int g, unsigned char* k_s, unsigned char* v_s,
                                        uint64_t* full, uint64_t* empty) {
  if constexpr (kTma) {
    if (threadIdx.x == kThreads && tma->box_rows > 0) prefetch_tma_maps(*tma);
  }
  int tiles = 0;
  WgPass ps;
  while (next_pass(ri, warp_limits, ps)) {
    const int32_t* table = p.block_tables + size_t(ps.seq) * p.max_blocks;
    const int n_tiles = (ps.end + kBlockN - 1) / kBlockN;
    produce_pass<T, HD, kStages, kSkip, kSwizzle, kTma>(p, tma, table, g, ps.end, n_tiles, tiles, k_s, v_s, full, empty,
                                                        &ri.pass_bad_key);
    tiles += n_tiles;
    __syncthreads();  // the consumers' end-of-pass barrier
  }
  cp_async_wait<0>();  // no copy of a thread outlives it
}

// ---- the overlap build (set_prefill_wgmma_overlap): the producer build whose consumer
// warpgroups also overlap, within each, the softmax of tile i with the P V of tile i - 1
// (FlashAttention-3's intra-warpgroup pipelining): in one turn a warpgroup issues S = q K_i^T and
// O += P_{i-1} V_{i-1} back to back, waits for S alone (wait_group 1), runs softmax_scores on it
// while its P V is still in flight, then waits for that (wait_group 0), releases tile i - 1 and
// rescales O. Each warpgroup takes n + 1 turns per pass of n tiles (S of tile 0 alone, then
// n - 1 pairs, then the last P V alone), and computes every tile of the pass (no per-warpgroup
// skipping: the masks zero what its rows do not see; at most one extra tile per pass in a causal
// prompt), so that every wgmma issue and wait is on the straight path ptxas needs to keep them
// asynchronous. (Rows therefore multiply V rows of every key below the pass end by p = 0: like
// every build, this one needs those V rows finite; keys >= end are zero-filled.) One
// warpgroup's pass (this thread's o, m, l; pa must outlive its P V). kSwizzle, kTma: the same pass
// on the TMA build's swizzled tiles (kOverlapPv, attention_prefill_wgmma_mask.h), whose TMA
// tiles need no proxy fence (tma, end: which tiles those are).
// (TurnsT: Turns, or TurnKeeper<false> for the overlap without turns, kOverlapPv | kAblateTurns)
// (kSplitKv: produce_pass's K and V apart; a warpgroup then waits for tile i's K alone before its
// S, for tile i - 1's V before its P V, and releases K once S has completed, V once P V has.)
template <typename T, int HD, int kStages, bool kSwizzle = false, bool kTma = false, class TurnsT = Turns,
          bool kSplitKv = false>
__device__ __forceinline__ void overlap_pass(const unsigned char* q_wg, const unsigned char* k_s,
                                             const unsigned char* v_s, uint64_t* full, uint64_t* empty, TurnsT& turns,
                                             int tiles, int n_tiles, const int (&limit)[2], float scale_log2,
                                             float slack, float (&o)[HD / 8][4], float (&m)[2], float (&l)[2],
                                             const TmaSource* tma = nullptr, int end = 0, uint64_t* full_v = nullptr,
                                             uint64_t* empty_v = nullptr) {
  using S = WgSmem<T, HD>;
  const auto stage = [&](int i) { return (tiles + i) % kStages; };
  const auto wait_on = [&](uint64_t* bars, int i) {
    const int t = tiles + i;
    mbarrier_wait(&bars[t % kStages], uint32_t((t / kStages) & 1));
    // the copies this thread now sees, before its wgmma reads them (a TMA tile's are the async
    // proxy's already)
    if (!kTma || !tile_by_tma(*tma, i, end)) wg::fence_proxy_async();
  };
  const auto wait_full = [&](int i) { wait_on(full, i); };  // tile i (kSplitKv: its K)
  const auto wait_v = [&](int i) {                            // (kSplitKv) tile i's V
    if constexpr (kSplitKv) wait_on(full_v, i);
  };
  const auto release_k = [&](int i) {  // (kSplitKv) S of tile i has completed
    if constexpr (kSplitKv) (void)::cuda::ptx::mbarrier_arrive(&empty[stage(i)]);
  };
  const auto release = [&](int i) {  // P V of tile i has completed: the stage (kSplitKv: its V)
    (void)::cuda::ptx::mbarrier_arrive(&(kSplitKv ? empty_v : empty)[stage(i)]);
  };
  float sc[kBlockN / 8][4];
  uint32_t pa[kBlockN / 16][4];
  float alpha[2];
  wait_full(0);
  turns.wait();
  qk_issue<T, HD, kSwizzle>(q_wg, k_s + stage(0) * S::kTileBytes, sc);
  turns.pass();
  qk_finish(sc);
  release_k(0);
  softmax_scores<kBlockN>(sc, KeysInOrder{0}, limit, scale_log2, m, l, alpha, slack);
  rescale_rows<HD>(o, alpha);  // (no P V in flight yet)
  for (int i = 1; i < n_tiles; ++i) {
    pack_p<T>(sc, pa);  // P of tile i - 1, before S of tile i overwrites sc (outside the turn)
    wait_full(i);
    wait_v(i - 1);
    turns.wait();
    qk_issue<T, HD, kSwizzle>(q_wg, k_s + stage(i) * S::kTileBytes, sc);
    pv_issue_packed<T, HD, kSwizzle>(v_s + stage(i - 1) * S::kTileBytes, pa, o);
    turns.pass();
    wg::wait<1>();  // S of tile i (the older group); P V of tile i - 1 may still run
    wg::fence_operands(sc);
    release_k(i);
    softmax_scores<kBlockN>(sc, KeysInOrder{i * kBlockN}, limit, scale_log2, m, l, alpha, slack);
    // The wait for P V of tile i - 1 in both arms of a branch on the softmax's alpha: ptxas then
    // cannot hoist it above softmax_scores (written as one wait after it, it did: the SASS waited
    // for P V right after S, and all 66 MUFU.EX2 of the softmax ran after that wait, so nothing
    // overlapped). The branch is on a vote of the whole warpgroup: wgmma.wait_group is .aligned,
    // all 128 threads must execute the same one. Same results: rescale_rows rescales only the
    // rows whose alpha differs from 1.
    if (warpgroup_any(alpha[0] != 1.0f || alpha[1] != 1.0f, turns.group)) {
      pv_finish<HD>(o, pa);
      rescale_rows<HD>(o, alpha);
    } else {
      pv_finish<HD>(o, pa);
    }
    release(i - 1);
  }
  pack_p<T>(sc, pa);
  wait_v(n_tiles - 1);
  turns.wait();
  pv_issue_packed<T, HD, kSwizzle>(v_s + stage(n_tiles - 1) * S::kTileBytes, pa, o);
  turns.pass();
  pv_finish<HD>(o, pa);
  release(n_tiles - 1);
}

}  // namespace
}  // namespace gqa::cuda
