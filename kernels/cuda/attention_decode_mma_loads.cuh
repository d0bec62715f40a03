// Split-KV GQA decode attention on tensor cores (attention_decode_mma.cu): the block's shape, its
// shared memory, and the K/V stage loaders (16-byte cp.async per thread, one cp.async.bulk per row,
// one per 8-key group) with the L2 prefetch of the first stages; in the anonymous namespace of the
// file that includes it.
#pragma once

#include <cuda/ptx>

#include <cstdint>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_decode_mma.h"
#include "kernels/cuda/attention_decode_params.cuh"
#include "kernels/cuda/attention_mma.cuh"
#include "kernels/cuda/decode_group_layout.h"
#include "kernels/cuda/mbarrier_wait.cuh"
#include "kernels/cuda/stream_loads.cuh"

namespace gqa::cuda {
namespace {

using namespace attn;

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kRows = kDecodeMmaHeadChunk;        // query heads per block = mma rows
constexpr int kStageKeys = kDecodeTileKeys;       // keys per pipeline stage
constexpr int kWarpKeys = kStageKeys / kWarps;    // keys per warp per stage
static_assert(kRows == 16 && kWarpKeys == 16, "one m16 row tile, one k16 step of P V per warp and stage");

// Shared memory: kStages K stages, then kStages V stages, each [kStageKeys][kRow] of T; rows padded
// by 16 bytes (an odd number of 16-byte bank groups: ldmatrix rows hit 8 different groups). After
// the loop the same bytes hold the warps' states for the merge: o [kWarps][16][HD], m, l [kWarps][16].
template <typename T, int HD, int kStages>
struct DecodeMmaSmem {
  static constexpr int kVec = 8;  // T per 16-byte copy
  static constexpr int kChunks = HD / kVec;
  static constexpr int kRow = HD + kVec;
  static constexpr int kTile = kStageKeys * kRow;  // elements of one K (or V) stage
  static constexpr size_t kPipeBytes = size_t(2) * kStages * kTile * sizeof(T);
  // The warps' states (o, m, l), then the block's merged state for the cluster reduction (o, m, l,
  // bad), then the epilogue's per-row merge: weights per warp, m, sum, 1 / sum, lse (row_w ..).
  static constexpr size_t kMergeBytes =
      (size_t(kWarps) * kRows * (HD + 2) + kRows * (HD + 3) + kWarps * kRows + 4 * kRows) * sizeof(float);
  static constexpr size_t kBytes = kPipeBytes > kMergeBytes ? kPipeBytes : kMergeBytes;
  static_assert(sizeof(T) == 2 && HD % 16 == 0, "16-bit types, head_dim a multiple of the mma k (16)");
  static_assert(kStages >= 2, "at least one stage in flight while one computes");
  static_assert(kStageKeys * kChunks % kThreads == 0, "whole 16-byte copies per thread");
  static_assert((kRow * sizeof(T)) % 16 == 0 && (kRow * sizeof(T) / 16) % 2 == 1, "odd 16-byte row stride");
};

// The K/V loaders: 16-byte cp.async per thread, one cp.async.bulk per row, one per 8-key group.
enum class Load { kCpAsync, kRows, kGroups };

// The block-table entries one thread's copies of the stage at key `start` read (page[i] for its
// copy i; 0 past k_end): with cp.async, copy i of thread x is 16-byte chunk x + i * kThreads of the
// stage; with one bulk copy per row, lane l of warp w copies row 16w + l % 16; with the grouped
// copies, lane l < 4 of warp w copies group 2w + l % 2 (K for l < 2, V else). Read one stage ahead
// of the copies, so the table's round trip overlaps the compute of the stage before instead of
// stalling the copy issue behind it.
template <typename T, int HD, int kStages, Load kLoad>
struct StagePages {
  static constexpr int kCopies =
      kLoad != Load::kCpAsync ? 1 : kStageKeys * DecodeMmaSmem<T, HD, kStages>::kChunks / kThreads;
  int page[kCopies];
  __device__ __forceinline__ static int key_of(int start, int i) {
    if constexpr (kLoad == Load::kGroups) {
      return start + 8 * (2 * (threadIdx.x / 32) + threadIdx.x % 2);
    } else if constexpr (kLoad == Load::kRows) {
      return start + (threadIdx.x / 32) * kWarpKeys + threadIdx.x % kWarpKeys;
    } else {
      return start + (threadIdx.x + i * kThreads) / DecodeMmaSmem<T, HD, kStages>::kChunks;
    }
  }
  __device__ __forceinline__ void read(const DecodeParams& p, const int32_t* table, int start, int k_end) {
#pragma unroll
    for (int i = 0; i < kCopies; ++i) {
      const int key = key_of(start, i);
      page[i] = key < k_end ? table[p.page_index(key)] : 0;
    }
  }
  // The same entries of block-table row `row` read before the token's sequence and position are
  // known (every key whose column lies within the row; 0 past it): issued as volatile loads so
  // they go out together with those two instead of after them. keep() then applies k_end.
  // No branch around the loads (a column past the row reads column 0 and keeps 0), so that ptxas
  // issues them before anything waits for token_seq[t] and positions[t].
  __device__ __forceinline__ void read_ahead(const DecodeParams& p, int row, int start) {
    const int32_t* table = p.block_tables + size_t(row) * p.max_blocks;
#pragma unroll
    for (int i = 0; i < kCopies; ++i) {
      const int col = p.page_index(key_of(start, i));
      const bool in = unsigned(col) < unsigned(p.max_blocks);
      int v;
      asm volatile("ld.global.b32 %0, [%1];" : "=r"(v) : "l"(table + (in ? col : 0)));
      page[i] = in ? v : 0;
    }
  }
  __device__ __forceinline__ void keep(int start, int k_end) {
#pragma unroll
    for (int i = 0; i < kCopies; ++i) {
      if (key_of(start, i) >= k_end) page[i] = 0;
    }
  }
};

// A loader's row: whether key's row of KV head g is to be copied (`in`: the key is wanted and its
// block table entry `page` is inside the cache; a page outside sets *bad, and the row is not) and
// its element offset in the cache.
template <int HD>
__device__ __forceinline__ size_t wanted_row(const DecodeParams& p, int page, int key, int g, bool& in, int* bad) {
  if (!in) return 0;
  if (!p.page_in_cache(page)) {
    *bad = 1;
    in = false;
    return 0;
  }
  return p.row_offset(page, key, g, HD);
}

// Issues the copies of keys [start, start + kStageKeys) of KV head g into one K and one V stage,
// from the pages `pg` read for that stage; keys >= k_end and keys on a block table entry outside
// the cache are zero-filled (the latter set *bad).
template <typename T, int HD, int kStages>
__device__ __forceinline__ void load_stage(const DecodeParams& p, const StagePages<T, HD, kStages, Load::kCpAsync>& pg, int g,
                                           int start, int k_end, T* k_dst, T* v_dst, int* bad) {
  using S = DecodeMmaSmem<T, HD, kStages>;
  const T* k_cache = static_cast<const T*>(p.k_cache);
  const T* v_cache = static_cast<const T*>(p.v_cache);
#pragma unroll
  for (int i = 0; i < StagePages<T, HD, kStages, Load::kCpAsync>::kCopies; ++i) {
    const int c = threadIdx.x + i * kThreads;
    const int j = c / S::kChunks, e = (c % S::kChunks) * S::kVec, key = start + j;
    bool in = key < k_end;
    const size_t off = wanted_row<HD>(p, pg.page[i], key, g, in, bad) + e;
    cp_async_16(k_dst + j * S::kRow + e, k_cache + off, in);
    cp_async_16(v_dst + j * S::kRow + e, v_cache + off, in);
  }
}

// Warp-wide, for the bulk loaders: lane 0 arrives on the stage's mbarrier `full` expecting the
// bytes of the lanes that copy (`in`, `bytes` each), then each of those copies src to dst. The
// proxy fence orders the lane's earlier generic accesses of the stage before the copy's write.
template <typename T>
__device__ __forceinline__ void warp_bulk_copy(bool in, T* dst, const T* src, uint32_t bytes, uint64_t* full) {
  namespace ptx = ::cuda::ptx;
  const uint32_t total = uint32_t(__popc(__ballot_sync(0xffffffffu, in))) * bytes;
  if (threadIdx.x % 32 == 0) {
    ptx::mbarrier_arrive_expect_tx(ptx::sem_release, ptx::scope_cta, ptx::space_shared, full, total);
  }
  __syncwarp();
  if (in) {
    ptx::fence_proxy_async(ptx::space_shared);
    ptx::cp_async_bulk(ptx::space_cluster, ptx::space_global, dst, src, bytes, full);
  }
}

// The bulk-copy loader (kBulk): every lane of warp w issues one cp.async.bulk of one 16-byte-aligned
// row, K rows of keys start + 16w + (lane % 16) for lanes 0-15 and V rows for lanes 16-31, into a
// stage whose mbarrier (`full`, kWarps arrivals) completes when every warp has arrived with the
// byte count it expects and all those bytes have landed. Rows of keys >= k_end or on a bad block
// table entry are zeroed with ordinary stores instead (and the latter set *bad); that happens
// before the __syncthreads that precedes the stage's use. Issued after a __syncthreads that follows
// the previous use of the stage; the proxy fence orders those generic accesses before the bulk
// copy's asynchronous write.
template <typename T, int HD, int kStages>
__device__ __forceinline__ void bulk_stage(const DecodeParams& p, const StagePages<T, HD, kStages, Load::kRows>& pg, int g,
                                           int start, int k_end, T* k_dst, T* v_dst, uint64_t* full, int* bad) {
  using S = DecodeMmaSmem<T, HD, kStages>;
  constexpr uint32_t kRowBytes = HD * sizeof(T);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int j = warp * kWarpKeys + lane % kWarpKeys, key = start + j;
  bool in = key < k_end;
  const size_t off = wanted_row<HD>(p, pg.page[0], key, g, in, bad);
  T* dst = (lane < kWarpKeys ? k_dst : v_dst) + j * S::kRow;
  if (!in) {
#pragma unroll
    for (int e = 0; e < HD; e += S::kVec) *reinterpret_cast<uint4*>(dst + e) = make_uint4(0u, 0u, 0u, 0u);
  }
  warp_bulk_copy(in, dst, static_cast<const T*>(lane < kWarpKeys ? p.k_cache : p.v_cache) + off, kRowBytes, full);
}

// The grouped loader (Load::kGroups; one KV head, so a page's rows of consecutive keys are
// contiguous, and pages of a multiple of 8 keys, so a group never straddles two): lanes 0-3 of
// warp w issue the K and V copies of groups 2w and 2w + 1 (8 * HD elements each) into their
// GroupedRows places, and lane 0 arrives on the stage's mbarrier (kWarps arrivals) expecting the
// warp's bytes. A group whose first key is >= k_end is not copied, nor one on a bad block table
// entry (which sets *bad: the token's rows are poisoned, whatever the stage holds). Rows of keys >=
// k_end (skipped groups, and the tail of the last copied one: stale cache rows) are the consuming
// warp's to zero in V (zero_v_tail) once the stage has landed; their K rows are masked.
template <typename T, int HD, int kStages>
__device__ __forceinline__ void group_stage(const DecodeParams& p, const StagePages<T, HD, kStages, Load::kGroups>& pg,
                                            int g, int start, int k_end, T* k_dst, T* v_dst, uint64_t* full, int* bad) {
  constexpr uint32_t kGroupBytes = 8 * HD * sizeof(T);
  const int lane = threadIdx.x % 32;
  const int j = 2 * (threadIdx.x / 32) + lane % 2, key = start + 8 * j;
  bool in = lane < 4 && key < k_end;
  const size_t off = wanted_row<HD>(p, pg.page[0], key, g, in, bad);
  const bool v = lane >= 2;
  warp_bulk_copy(in, (v ? v_dst : k_dst) + j * GroupedRows<HD>::kStride,
                 static_cast<const T*>(v ? p.v_cache : p.k_cache) + off, kGroupBytes, full);
}

// The grouped loader's last stage of a split: warp-wide, zeroes the V rows of this warp's keys >=
// k_end (v_t: the warp's tile pointer, keys: its GroupedKeys), then __syncwarp (only this warp
// reads them). After the stage's mbarrier wait; no copy writes the stage afterwards.
template <typename T, int HD>
__device__ __forceinline__ void zero_v_tail(T* v_t, GroupedKeys keys, int k_end) {
  constexpr int kChunks = HD / 8;  // 16-byte chunks per row
  const int lane = threadIdx.x % 32;
  for (int i = lane; i < kWarpKeys * kChunks; i += 32) {
    const int n = i / kChunks, c = i % kChunks;
    if (keys(n) >= k_end) *reinterpret_cast<uint4*>(v_t + GroupedRows<HD>{}(n, 8 * c)) = make_uint4(0u, 0u, 0u, 0u);
  }
  __syncwarp();
}

// DecodeParams::kv_prefetch, before pdl_wait: asks the L2 for the K and V rows of the block's first
// kAhead stages (one key per thread and pass), so that under programmatic dependent launch, where
// this block waits in pdl_wait while its predecessor finishes, their DRAM latency passes then.
// Besides the prefetches (allowed before pdl_wait: pdl.cuh) this reads positions, token_seq and
// block_tables: a step's inputs, written by host copies that complete before the step's first
// kernel starts and never by a kernel, so never stale here; read through the L2 only (no L1 copy
// outlives pdl_wait), so even a stale read could only change which rows are prefetched. Keys on a
// block table entry outside the cache are skipped (the loader poisons them after pdl_wait).
template <typename T, int HD, int kAhead>
__device__ __forceinline__ void prefetch_first_stages(const DecodeParams& p, int t, int split, int g) {
  constexpr int kLineElems = 128 / sizeof(T);
  const SplitKeys keys = split_keys<kStageKeys, true>(p, t, split);
  const int end = min(keys.k_end, keys.k_begin + kAhead * kStageKeys);
  const int32_t* table = p.block_tables + size_t(keys.seq) * p.max_blocks;
  for (int key = keys.k_begin + threadIdx.x; key < end; key += kThreads) {
    const int page = __ldcg(table + p.page_index(key));
    if (!p.page_in_cache(page)) continue;
    const size_t off = p.row_offset(page, key, g, HD);
#pragma unroll
    for (int e = 0; e < HD; e += kLineElems) {
      prefetch_l2(static_cast<const T*>(p.k_cache) + off + e);
      prefetch_l2(static_cast<const T*>(p.v_cache) + off + e);
    }
  }
}

}  // namespace
}  // namespace gqa::cuda
