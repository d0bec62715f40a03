// Causal flash prefill on Hopper warpgroup MMA (see attention_prefill_wgmma.h): the kernels and
// their launch helpers, included by the files that instantiate them, attention_prefill_wgmma.cu
// (the builds the dispatcher runs), attention_prefill_wgmma_ablation.cu (the producer build's
// ablated kernels, a timing aid) and attention_prefill_wgmma_tma_probe.cu. Their own internal
// namespace in each: nothing here is shared between the objects. The pieces every build shares:
// attention_prefill_wgmma_tiles.cuh; the TMA build's loads: attention_prefill_wgmma_tma.cuh; the
// ping-pong builds' turns and the producer and overlap builds' passes:
// attention_prefill_wgmma_passes.cuh.
//
// Rows, passes, causal tile skipping and the output as in attention_prefill_rows.cuh and the
// mma.sync kernel (attention_prefill_mma.cu). Block: 2 warpgroups = 256 threads = 128 packed rows
// (warpgroup w: rows 64w..64w+63, its warp i rows 64w + 16i..); 1-D grid of hkv * ceil(rows / 128)
// blocks, the KV head fastest and the heaviest row tile first.
//   smem   q [128][hd] (loaded once) and two stages of K and V tiles [128 keys][hd], all in the
//          no-swizzle core-matrix layout of wgmma.cuh: the 16-byte chunk (row r, dims 8j..8j+7) at
//          byte (r / 8) * hd * 16 + j * 128 + (r % 8) * 16. Chunk number c = (r / 8) * hd + 8j + r % 8
//          therefore lands at byte 16c: a warp's cp.async writes are contiguous, and its 32
//          copies read 64 contiguous bytes (two whole sectors) of each of 8 rows.
//   QK     S (64 x 128 per warpgroup, f32) = q K^T: hd / 16 wgmma m64n128k16 with q and K both
//          K-major in shared memory (LBO 128 bytes = the next 8 dims, SBO hd * 16 = the next 8 rows)
//   soft   softmax_tile (attention_mma.cuh), each warp on its 16 rows, as in the mma.sync kernel
//   PV     O (64 x hd, f32) += P V: 8 wgmma m64n{hd}k16, A = P rounded to bf16/f16 in registers
//          (p_fragment), B = the V tile read N-major (LBO hd * 16 = the next 8 keys, SBO 128 = the
//          next 8 dims): the same bytes as K, seen transposed
//   sync   every thread: cp.async wait for tile i (nothing else in flight), fence.proxy.async (its
//          copies visible to wgmma's async proxy), __syncthreads, then the copies of tile i + 1,
//          then tile i's math; each wgmma batch is fenced, committed and waited for (wait_group
//          0) before its accumulators are read. A warpgroup skips a tile's math only when none of
//          its 64 rows sees a key of it (wgmma is warpgroup-collective).
// A second build, the ping-pong kernel below (set_prefill_wgmma_pingpong), hands the stages over
// by mbarriers and alternates the warpgroups' tensor-core turns so one's softmax overlaps the
// other's GEMMs; a third (set_prefill_wgmma_producer) adds a producer warpgroup that does all
// the copying; a fourth (set_prefill_wgmma_swizzle) is the producer build on 128-byte-swizzled
// tiles (swizzle128_byte, prefill_tile_copy.h) instead of the no-swizzle core-matrix layout; a
// fifth (set_prefill_wgmma_tma) is the swizzle build whose producers load the K/V tiles by TMA.
#pragma once

#include <cuda/ptx>

#include <cmath>
#include <type_traits>

#include "kernels/cuda/attention_prefill_wgmma_tiles.cuh"
#include "kernels/cuda/attention_prefill_wgmma_passes.cuh"
#include "kernels/cuda/attention_prefill_wgmma_tma.cuh"

namespace gqa::cuda {
namespace {

template <typename T, int HD>
__global__ void __launch_bounds__(kThreads, 1) prefill_wgmma_kernel(const PrefillParams p) {
  using S = WgSmem<T, HD>;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  __shared__ PrefillRowInfo<kBlockM> ri;
  __shared__ int warp_limits[kWarps];
  unsigned char* q_s = smem_raw;
  unsigned char* k_s = smem_raw + S::kQBytes;  // [2] tiles
  unsigned char* v_s = k_s + 2 * S::kTileBytes;  // [2] tiles
  const int g = static_cast<int>(blockIdx.x % p.hkv);
  const int row0 = (static_cast<int>(gridDim.x / p.hkv) - 1 - static_cast<int>(blockIdx.x / p.hkv)) * kBlockM;
  const int group = warp_uniform(static_cast<int>(threadIdx.x / 128));

  start_block<T, HD>(p, g, row0, ri, q_s);
  const unsigned char* q_wg = q_s + size_t(group) * 8 * S::kGroupBytes;  // the warpgroup's 64 rows

  float o[HD / 8][4];
#pragma unroll
  for (int dt = 0; dt < HD / 8; ++dt) o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  bool bad[2] = {false, false};
  WgPass ps;
  while (next_pass(ri, warp_limits, ps)) {
    const int end = ps.end;
    const int32_t* table = p.block_tables + size_t(ps.seq) * p.max_blocks;
    const int n_tiles = (end + kBlockN - 1) / kBlockN;
    load_kv_tile<T, HD>(p, table, g, 0, end, k_s, v_s, &ri.pass_bad_key);
    cp_async_commit();
    for (int i = 0; i < n_tiles; ++i) {
      const int stage = i & 1, next = stage ^ 1;
      // Tile i's copies (the only ones in flight) have landed; the proxy fence then has no copy
      // of a later tile to wait for (it compiles to MEMBAR.ALL.CTA + FENCE.VIEW.ASYNC).
      cp_async_wait<0>();
      wg::fence_proxy_async();
      // Every thread's copies of tile i are visible, and every warpgroup is done with tile i - 1
      // (its wgmma waited), whose stage tile i + 1 now overwrites while tile i is computed.
      __syncthreads();
      if (i + 1 < n_tiles) {
        load_kv_tile<T, HD>(p, table, g, (i + 1) * kBlockN, end, k_s + next * S::kTileBytes,
                            v_s + next * S::kTileBytes, &ri.pass_bad_key);
        cp_async_commit();
      }
      if (i * kBlockN <= ps.group_limit) {
        wgmma_attend_tile<T, HD>(q_wg, k_s + stage * S::kTileBytes, v_s + stage * S::kTileBytes, i * kBlockN,
                                 ps.limit, p.scale_log2, o, m, l, p.rescale_slack);
      }
    }
    finish_pass(ri, ps.seq, ps.limit, bad);
  }
  store_rows<T, HD, kBlockM>(p, ri, g, row0, o, l, bad);
}

// The ping-pong kernels' shared memory: the q and K/V tiles (dynamic) and the bookkeeping. The
// swizzle build keeps all of it in dynamic shared memory, its tiles from the first 1024-byte-aligned
// address (the 128-byte swizzle's atoms must be aligned; the static variables would come first and
// offset them) and the bookkeeping after them; the other builds keep the bookkeeping static.
template <int kStages>
struct PingPongBook {
  PrefillRowInfo<kBlockM> ri;
  int warp_limits[kWarps];
  alignas(8) uint64_t bars[2 * kStages + 2];  // full[kStages], empty[kStages], turn[2]
};

template <typename T, int HD, bool kSwizzle>
struct PingPongShared {
  static constexpr int kStages = WgSmem<T, HD>::kPingPongStages;
  // Dynamic bytes to request: the swizzle build's include the bookkeeping and the alignment slack.
  static constexpr size_t kDynamicBytes =
      WgSmem<T, HD>::kPingPongBytes + (kSwizzle ? sizeof(PingPongBook<kStages>) + 1024 - 16 : 0);
  static_assert(kDynamicBytes <= 232448 - (kSwizzle ? 0 : 2048), "shared memory past 227 KB per block");
  unsigned char* tiles;
  PrefillRowInfo<kBlockM>* ri;
  int (*warp_limits)[kWarps];
  uint64_t *full, *empty, *turn;
};

template <typename T, int HD, bool kSwizzle>
__device__ __forceinline__ PingPongShared<T, HD, kSwizzle> pingpong_shared(unsigned char* smem_raw) {
  using Sh = PingPongShared<T, HD, kSwizzle>;
  constexpr int kStages = Sh::kStages;
  if constexpr (kSwizzle) {
    unsigned char* tiles = wg::aligned_1024(smem_raw);
    auto* book = reinterpret_cast<PingPongBook<kStages>*>(tiles + WgSmem<T, HD>::kPingPongBytes);
    return Sh{tiles, &book->ri, &book->warp_limits, book->bars, book->bars + kStages, book->bars + 2 * kStages};
  } else {
    __shared__ PrefillRowInfo<kBlockM> ri;
    __shared__ int warp_limits[kWarps];
    __shared__ __align__(8) uint64_t full[kStages], empty[kStages], turn[2];
    return Sh{smem_raw, &ri, &warp_limits, full, empty, turn};
  }
}

// A block of the ping-pong kernels (tma: the TMA build's descriptors, else unused).
template <typename T, int HD, bool kProducer, bool kOverlap, unsigned kSkip, bool kSwizzle, bool kTma>
__device__ __forceinline__ void pingpong_block(const PrefillParams& p, const TmaSource* tma) {
  static_assert(kProducer || !kOverlap, "the overlap build is the producer build's");
  // (the overlap's one ablation: its turns, the TMA build's kOverlapPv | kAblateTurns)
  static_assert(kSkip == 0 || (kProducer && (!kOverlap || (kTma && kSkip == kAblateTurns))),
                "ablations are of the producer (and TMA) builds");
  static_assert(!kSwizzle || kProducer, "the swizzle build is the producer build's");
  static_assert(!kSwizzle || !kOverlap || kTma, "the overlap build on swizzled tiles is the TMA build's (kOverlapPv)");
  static_assert(!kTma || kSwizzle, "the TMA build is the swizzle build's");
  static_assert((kSkip & kOverlapPv) == 0, "kOverlapPv: prefill_wgmma_tma_kernel makes it kOverlap");
  static_assert((kSkip & ~255u) == 0, "a mask bit attention_prefill_wgmma_mask.h does not name");
  using S = WgSmem<T, HD>;
  constexpr int kStages = S::kPingPongStages;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  // The tiles, then (the swizzle build) the bookkeeping; else the bookkeeping is static.
  const PingPongShared<T, HD, kSwizzle> sh = pingpong_shared<T, HD, kSwizzle>(smem_raw);
  PrefillRowInfo<kBlockM>& ri = *sh.ri;
  int(&warp_limits)[kWarps] = *sh.warp_limits;
  uint64_t* full = sh.full;
  uint64_t* empty = sh.empty;
  uint64_t* turn = sh.turn;
  unsigned char* q_s = sh.tiles;
  unsigned char* k_s = q_s + S::kQBytes;               // [kStages] tiles
  unsigned char* v_s = k_s + kStages * S::kTileBytes;  // [kStages] tiles
  const int g = static_cast<int>(blockIdx.x % p.hkv);
  const int row0 = (static_cast<int>(gridDim.x / p.hkv) - 1 - static_cast<int>(blockIdx.x / p.hkv)) * kBlockM;
  const int group = warp_uniform(static_cast<int>(threadIdx.x / 128));  // 2: the producers
  const bool producer = kProducer && threadIdx.x >= kThreads;  // warpgroup-uniform

  if (threadIdx.x == 0) {
    for (int st = 0; st < kStages; ++st) {
      ::cuda::ptx::mbarrier_init(&full[st], kProducer ? kProducerThreads : kThreads);
      ::cuda::ptx::mbarrier_init(&empty[st], kThreads);
    }
    for (int w = 0; w < 2; ++w) ::cuda::ptx::mbarrier_init(&turn[w], kThreads / 2);
    ::cuda::ptx::fence_mbarrier_init(::cuda::ptx::sem_release, ::cuda::ptx::scope_cluster);
  }
  start_block<T, HD, kSwizzle>(p, g, row0, ri, q_s);
  // (consumers) the warpgroup's 64 rows (swizzled: in the first 64-dim half, 128 bytes a row)
  const unsigned char* q_wg = q_s + size_t(group) * (kSwizzle ? 64 * 128 : 8 * S::kGroupBytes);
  __syncthreads();  // the barriers are initialised
  if constexpr (kProducer) {
    if (producer) {
      set_max_regs_dec<kProducerRegs>();
      produce<T, HD, kStages, kSkip, kSwizzle, kTma>(p, tma, ri, warp_limits, g, k_s, v_s, full, empty);
      return;
    }
    set_max_regs_inc<kConsumerRegs>();
  }
  TurnKeeper<!(kSkip & kAblateTurns)> turns{turn, group};
  // kLateTurns: a warpgroup passes each turn once its GEMM has completed (after the wait) rather
  // than once issued, so the other's GEMM cannot share the tensor cores with it (see kLateTurns).
  constexpr bool kLate = (kSkip & kLateTurns) != 0;
  if (group == 1) turns.pass();  // warpgroup 0 takes the first turn

  float o[HD / 8][4];
#pragma unroll
  for (int dt = 0; dt < HD / 8; ++dt) o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  bool bad[2] = {false, false};
  int tiles = 0;  // tiles loaded (and consumed) by earlier passes: tile t uses stage t % kStages
  WgPass ps;
  while (next_pass(ri, warp_limits, ps)) {
    const int end = ps.end;
    const int32_t* table = p.block_tables + size_t(ps.seq) * p.max_blocks;
    const int n_tiles = (end + kBlockN - 1) / kBlockN;
    // (Without a producer) copies of the pass's tile i (global tile t = tiles + i) into stage
    // t % kStages, once every thread is done with the tile that stage held (t - kStages, its use
    // (t / kStages - 1)); then this thread's arrival on full[stage], whose phase (t / kStages)
    // completes when all 256 landed.
    const auto load = [&](int i) {
      const int t = tiles + i, st = t % kStages;
      if (t >= kStages) mbarrier_wait(&empty[st], uint32_t((t / kStages - 1) & 1));
      load_kv_tile<T, HD>(p, table, g, i * kBlockN, end, k_s + st * S::kTileBytes, v_s + st * S::kTileBytes,
                          &ri.pass_bad_key);
      cp_async_arrive(&full[st]);
    };
    if constexpr (!kProducer) {
      for (int i = 0; i < kStages - 1 && i < n_tiles; ++i) load(i);
    }
    if constexpr (kOverlap) {
      if (n_tiles > 0) {
        overlap_pass<T, HD, kStages, kSwizzle, kTma>(q_wg, k_s, v_s, full, empty, turns, tiles, n_tiles, ps.limit,
                                                     p.scale_log2, p.rescale_slack, o, m, l, tma, end);
      }
    }
    for (int i = 0; i < (kOverlap ? 0 : n_tiles); ++i) {
      const int t = tiles + i, st = t % kStages;
      const int j = pass_tile<kSkip>(i, n_tiles);         // the pass's tile in this block's order
      const bool mine = j * kBlockN <= ps.group_limit;  // uniform over the warpgroup
      const unsigned char* k_t = k_s + st * S::kTileBytes;
      const unsigned char* v_t = v_s + st * S::kTileBytes;
      mbarrier_wait(&full[st], uint32_t((t / kStages) & 1));
      // The copies this thread now sees, before its wgmma reads them (a TMA tile's are the async
      // proxy's already).
      if (!kTma || !tile_by_tma(*tma, j, end)) wg::fence_proxy_async();
      // Each wgmma issue and its wait sit in one branch (a path from an issue to a use of the
      // accumulators that skips the wait would make ptxas serialise every wgmma); both branches
      // take and pass the same turns.
      float sc[kBlockN / 8][4];
      if (mine) {
        turns.wait();
        if constexpr (kSkip & kAblateQk) {
          opaque_zeros(sc);
        } else {
          qk_issue<T, HD, kSwizzle>(q_wg, k_t, sc);
        }
        if constexpr (!kLate) turns.pass();
        if constexpr (!(kSkip & kAblateQk)) qk_finish(sc);
        if constexpr (kLate) turns.pass();
        if constexpr (!(kSkip & kAblateSoftmax)) {
          softmax_tile<HD, kBlockN>(sc, j * kBlockN, ps.limit, p.scale_log2, o, m, l, p.rescale_slack);
        }
      } else {
        turns.wait();
        turns.pass();
      }
      // Under the other warpgroup's tensor-core work, outside this one's issue-to-wait windows.
      if constexpr (!kProducer) {
        if (i + kStages - 1 < n_tiles) load(i + kStages - 1);
      }
      if (mine) {
        uint32_t pa[kBlockN / 16][4];
        turns.wait();
        if constexpr (!(kSkip & kAblatePv)) pv_issue<T, HD, kSwizzle>(v_t, sc, pa, o);
        if constexpr (!kLate) turns.pass();
        if constexpr (!(kSkip & kAblatePv)) pv_finish<HD>(o, pa);
        if constexpr (kLate) turns.pass();
      } else {
        turns.wait();
        turns.pass();
      }
      (void)::cuda::ptx::mbarrier_arrive(&empty[st]);
    }
    tiles += n_tiles;
    __syncthreads();  // every bad-key record of the pass is in
    finish_pass(ri, ps.seq, ps.limit, bad);
  }
  store_rows<T, HD, kBlockM>(p, ri, g, row0, o, l, bad);
}

template <typename T, int HD, bool kProducer, bool kOverlap = false, unsigned kSkip = 0, bool kSwizzle = false>
__global__ void __launch_bounds__(kThreads + (kProducer ? kProducerThreads : 0), 1)
    prefill_wgmma_pingpong_kernel(const PrefillParams p) {
  pingpong_block<T, HD, kProducer, kOverlap, kSkip, kSwizzle, false>(p, nullptr);
}

// The TMA build (kSkip: 0, kRotateTiles, kLateTurns, kOverlapPv, kOverlapPv | kAblateTurns, or an ablation mask:
// attention_prefill_wgmma_mask.h). Its descriptors must be a __grid_constant__ parameter
// (the TMA unit reads them from the kernel's parameter space).
template <typename T, int HD, unsigned kSkip>
__global__ void __launch_bounds__(kThreads + kProducerThreads, 1)
    prefill_wgmma_tma_kernel(const __grid_constant__ TmaPrefillParams tp) {
  // (kOverlapPv: the overlap build's consumers on the TMA build's tiles; the rest of the mask as given)
  static_assert((kSkip & kOverlapPv) == 0 || kSkip == kOverlapPv || kSkip == (kOverlapPv | kAblateTurns),
                "kOverlapPv comes alone or with kAblateTurns");
  constexpr bool kOverlap = (kSkip & kOverlapPv) != 0;
  pingpong_block<T, HD, true, kOverlap, kSkip & ~unsigned(kOverlapPv), true, true>(tp.p, &tp.tma);
}

// The producer builds' setmaxnreg split assumes the kernel launches with 168 registers per thread:
// with fewer (a -maxrregcount, a launch-bounds change, another ptxas) the consumers' setmaxnreg.inc
// could wait forever for registers the producers never had. Asked once per kernel (one
// instantiation of this template each: a cache keyed by the kernel's type alone would answer only
// for the first kernel of a signature).
template <auto kKernel>
int kernel_registers() {
  static const int regs = [] {
    cudaFuncAttributes attr{};
    GQA_CUDA_CHECK(cudaFuncGetAttributes(&attr, kKernel));
    return attr.numRegs;
  }();
  return regs;
}
inline bool register_split_holds(int regs) { return regs * 96 >= kProducerRegs * 32 + kConsumerRegs * 64; }

template <typename T, int HD, bool kOverlap, unsigned kSkip, bool kSwizzle>
constexpr auto kProducerKernel = prefill_wgmma_pingpong_kernel<T, HD, true, kOverlap, kSkip, kSwizzle>;

// The registers per thread ptxas gave a producer build's kernel.
template <typename T, int HD, bool kOverlap, unsigned kSkip, bool kSwizzle = false>
int producer_registers() {
  return kernel_registers<kProducerKernel<T, HD, kOverlap, kSkip, kSwizzle>>();
}

// A producer build's launch: kOverlap the overlap build, kSkip its parts left out (the timing aid
// of attention_prefill_wgmma_ablation.h), kSwizzle the swizzle build. Throws gqa::Error unless
// register_split_holds (checked before its first launch).
template <typename T, int HD, bool kOverlap, unsigned kSkip, bool kSwizzle = false>
void run_producer_kernel(const PrefillParams& p, cudaStream_t stream, const char* build, const char* name) {
  const int regs = producer_registers<T, HD, kOverlap, kSkip, kSwizzle>();
  GQA_CHECK(register_split_holds(regs), kOp << ": " << build << " was built with " << regs
                                            << " registers per thread; its setmaxnreg split (" << kProducerRegs
                                            << " / " << kConsumerRegs << ") needs 168");
  run_prefill_kernel(kProducerKernel<T, HD, kOverlap, kSkip, kSwizzle>, PingPongShared<T, HD, kSwizzle>::kDynamicBytes,
                     kBlockM, kThreads + kProducerThreads, p, stream, kOp, name);
}

template <typename T, int HD, unsigned kSkip>
constexpr auto kTmaKernel = prefill_wgmma_tma_kernel<T, HD, kSkip>;

// The TMA build's kernel parameters for p: the descriptors where p's block size gives whole boxes
// (tma_box_rows) and the caches can be described (tensor_map.h), else box_rows 0 (every tile by
// cp.async: the same kernel, the swizzle build's copies).
template <typename T, int HD>
TmaPrefillParams tma_prefill_params(const PrefillParams& p) {
  TmaPrefillParams tp{};
  tp.p = p;
  tp.tma.box_rows = 0;
  const int rows = tma_box_rows(p.block_size);
  PagedCacheMap k{p.k_cache, std::is_same_v<T, __nv_bfloat16>, p.num_blocks, p.block_size, p.hkv, HD, rows};
  PagedCacheMap v = k;
  v.base = p.v_cache;
  if (rows > 0 && paged_cache_map_encodable(k) && paged_cache_map_encodable(v)) {
    tp.tma.k = encode_paged_cache_map(k);
    tp.tma.v = encode_paged_cache_map(v);
    tp.tma.box_rows = rows;
  }
  return tp;
}

// The registers per thread ptxas gave the TMA build's kernel.
template <typename T, int HD, unsigned kSkip>
int tma_registers() {
  return kernel_registers<kTmaKernel<T, HD, kSkip>>();
}

// One launch of a kernel taking TmaPrefillParams (the TMA build's, the persistent build's): `grid`
// blocks of the consumers and producers, `smem` bytes of dynamic shared memory, checked under `name`.
template <typename T, int HD, typename Kernel>
void launch_tma_prefill(Kernel* kernel, size_t smem, unsigned grid, const PrefillParams& p, cudaStream_t stream,
                        const char* name) {
  // (before the encode: its first call per device sets the kernel up through the runtime, which
  // makes the device's context current for the driver's encode in a thread that had none)
  allow_dynamic_smem(kernel, smem);
  const TmaPrefillParams tp = tma_prefill_params<T, HD>(p);
  kernel<<<grid, kThreads + kProducerThreads, smem, stream>>>(tp);
  GQA_CUDA_LAUNCH_CHECK(name);
}

// The TMA build's launch. Throws gqa::Error unless register_split_holds.
template <typename T, int HD, unsigned kSkip>
void run_tma_kernel(const PrefillParams& p, cudaStream_t stream, const char* name) {
  const int regs = tma_registers<T, HD, kSkip>();
  GQA_CHECK(register_split_holds(regs), kOp << ": the TMA build was built with " << regs
                                            << " registers per thread; its setmaxnreg split (" << kProducerRegs
                                            << " / " << kConsumerRegs << ") needs 168");
  launch_tma_prefill<T, HD>(kTmaKernel<T, HD, kSkip>, PingPongShared<T, HD, true>::kDynamicBytes,
                            prefill_grid(p, kBlockM, kOp), p, stream, name);
}

}  // namespace
}  // namespace gqa::cuda
