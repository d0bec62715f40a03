// Split-KV GQA decode attention on tensor cores (see attention_decode_mma.h).
//
// Why tensor cores for decode: a group of 8 query heads does 8 * 2 * hd multiply-adds per K/V
// row of 4 * hd bytes, 4 FMA per byte read; at 4.8 TB/s that is ~40 TFLOP/s of f32 FMA, more than
// CUDA cores sustain next to the loads (the CUDA-core kernel measured 21-27% of copy bandwidth on
// an H200 at 32K-128K). With mma.sync the math is a small fraction of the tile time, so the
// kernel is limited by how many bytes it keeps in flight.
//
// Grid (num_splits * head_chunks, hkv, n_tokens) of a DecodePlan with head_chunk 16. Block: 4
// warps; its split's keys stream through shared memory in 64-key stages, a cp.async pipeline of
// 3 stages (two in flight while one is computed; 2 blocks per SM at hd 128) or, on request
// (DecodeOptions::stages = 6), 6 stages (five in flight; 1 block per SM at hd 128); the copies are
// one cp.async.bulk per K/V row with an mbarrier per stage (the copy engine instead of 2048
// per-thread copies a stage; the default, DecodeOptions::loader) or 16-byte cp.async per thread;
// each stage's block-table entries are read one stage ahead, into registers. By default where it
// fits (the grouped loader, DecodePlan::group_copies: one KV head per rank, pages of a multiple of 8 keys): one
// cp.async.bulk per 8 consecutive keys' rows (8 x fewer copies than one per row), the 8 groups of
// a stage 16 bytes apart in shared memory, warp w taking rows 2w and 2w + 1 of every group
// (GroupedRows / GroupedKeys below) so that the 8 rows of an ldmatrix come from 8 groups:

//   rows   the 16 query heads of the chunk (head-in-group chunk * 16 + r; rows past the group
//          are zero q rows whose results are never stored) are the 16 rows of the mma A operand,
//          loaded once from global memory into registers
//   warps  warp w takes keys [16w, 16w + 16) of every stage, with its own online-softmax state
//          (mma_attend_tile: S = q K^T, mask keys >= k_end, P V), so no barrier per key tile
//          beyond the pipeline's one per stage
//   end    the 4 warps' states (row max m, row sum l, o) merge through shared memory; one split
//          writes out = o / l, several write o / l and lse = m + log2(l) for attention_merge,
//          or, with the fused merge (Reduce::kFused), for the last of them to finish, which
//          merges them (merge_if_last, attention_decode_params.cuh).
// A block table entry outside the cache zero-fills its keys and poisons the token's rows (NaN).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cooperative_groups.h>
#include <cuda/ptx>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_decode_mma.h"
#include "kernels/cuda/attention_decode_mma_loads.cuh"
#include "kernels/cuda/attention_decode_params.cuh"
#include "kernels/cuda/decode_group_layout.h"
#include "kernels/cuda/attention_mma.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/mbarrier_wait.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/per_device.h"
#include "kernels/cuda/stream_loads.cuh"

namespace gqa::cuda {
namespace {

using namespace attn;

constexpr const char* kOp = "cuda attention (decode, mma)";

// Two consecutive elements of a q row as one A-fragment register (zeros for a row past the group):
// one 32-bit load, col even and q 16-byte aligned (check_attention_args); the same bits as
// converting each to f32 and packing them again (exact for 16-bit types), in half the loads and
// none of the conversions (64 LDG.U16, 64 shifts and 32 F2FP per thread before).
template <typename T>
__device__ __forceinline__ uint32_t q_pair(const T* row, int col, bool in) {
  static_assert(sizeof(T) == 2, "two 16-bit elements in one register");
  return in ? *reinterpret_cast<const uint32_t*>(row + col) : 0u;
}

// How a plan of several splits combines them: the merge kernel (attention_merge) reads every
// split's partial; the cluster reduction (DecodePlan::cluster) merges a cluster's splits through
// distributed shared memory first; the fused merge (DecodePlan::fused_merge) has the last split
// block merge them, no second kernel.
enum class Reduce { kMergeKernel, kCluster, kFused };
// The kernel's parameters: the fused merge's add its counters.
template <Reduce R>
using KernelParams = std::conditional_t<R == Reduce::kFused, FusedMergeParams, DecodeParams>;

template <typename T, int HD, int kStages, Load kLoad, Reduce kReduce>
__global__ void __launch_bounds__(kThreads) decode_mma_kernel(const KernelParams<kReduce> p) {
  constexpr bool kCluster = kReduce == Reduce::kCluster, kFused = kReduce == Reduce::kFused;
  constexpr bool kBulk = kLoad != Load::kCpAsync, kGroups = kLoad == Load::kGroups;
  static_assert(!kGroups || GroupedRows<HD>::kStride * 8 <= DecodeMmaSmem<T, HD, kStages>::kTile,
                "the grouped layout fits a padded stage");
  // (one chunk block of a split prefetches: the others read the same rows)
  if (p.kv_prefetch && blockIdx.x % p.head_chunks == 0) {
    prefetch_first_stages<T, HD, kStages - 1>(p, blockIdx.z, blockIdx.x / p.head_chunks, blockIdx.y);
  }
  pdl_wait();
  using S = DecodeMmaSmem<T, HD, kStages>;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  __shared__ int bad;
  __shared__ __align__(8) uint64_t full[kStages];  // kBulk: one mbarrier per stage
  T* k_s = reinterpret_cast<T*>(smem_raw);  // [kStages][kStageKeys][kRow]
  T* v_s = k_s + kStages * S::kTile;         // [kStages][kStageKeys][kRow]

  const int chunk = blockIdx.x % p.head_chunks, split = blockIdx.x / p.head_chunks;
  const int g = blockIdx.y, t = blockIdx.z;
  // The prologue's block-table entries, read on the guess that token t is sequence t's (a decode
  // step's layout: one token per sequence, in order), in the same round trip as token_seq[t] and
  // positions[t] (split_keys, below: these loads come first so that none waits for those) instead
  // of one after: their split's keys start at split * keys per split whatever the position. Used
  // only where token_seq[t] confirms the guess (else read again below). The bulk loaders only:
  // one entry per thread and tile, all kAhead prologue tiles' read together (the cp.async loader
  // reads 8 a tile, one tile at a time, for its registers).
  using Pages = StagePages<T, HD, kStages, kLoad>;
  constexpr int kAhead = kBulk ? kStages - 1 : 1;  // tiles whose pages the prologue reads first
  const int split_start = split_first_key<kStageKeys>(p, split);
  Pages first[kAhead];
  const bool guessing = kBulk && t < p.n_seqs;
  if constexpr (kBulk) {  // (row 0 when t is past the rows: read, never used)
#pragma unroll
    for (int s = 0; s < kAhead; ++s) first[s].read_ahead(p, guessing ? t : 0, split_start + s * kStageKeys);
  }
  const SplitKeys keys = split_keys<kStageKeys>(p, t, split);
  if (!kCluster && keys.k_begin >= keys.k_end) {  // (a cluster's blocks all take part in its reduction)
    store_empty<T, HD>(p, t, g, chunk * kRows, kRows, split, keys.valid);
    if constexpr (kFused) merge_if_last<T, HD, kThreads>(p, t, g, chunk, chunk * kRows, kRows);  // (it counts too)
    return;
  }
  const int k_begin = keys.k_begin, k_end = max(keys.k_begin, keys.k_end);  // empty: no tiles
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gid = lane / 4, tig = lane % 4;
  if (threadIdx.x == 0) {
    bad = 0;
    if constexpr (kBulk) {
      for (int s = 0; s < kStages; ++s) ::cuda::ptx::mbarrier_init(&full[s], kWarps);
      ::cuda::ptx::fence_mbarrier_init(::cuda::ptx::sem_release, ::cuda::ptx::scope_cluster);
    }
  }
  __syncthreads();  // bad = 0 and the barriers ready before any loader uses them

  const int32_t* table = p.block_tables + size_t(keys.seq) * p.max_blocks;
  const int n_tiles = (k_end - k_begin + kStageKeys - 1) / kStageKeys;
  // Tile `tile` into stage slot `slot` from the pages read for it, by either loader.
  StagePages<T, HD, kStages, kLoad> ahead;  // the pages of the next tile to issue
  const auto read_pages = [&](int tile) { ahead.read(p, table, k_begin + tile * kStageKeys, k_end); };
  const auto issue = [&](int tile, int slot) {
    T* kd = k_s + slot * S::kTile;
    T* vd = v_s + slot * S::kTile;
    if constexpr (kGroups) {
      group_stage<T, HD, kStages>(p, ahead, g, k_begin + tile * kStageKeys, k_end, kd, vd, &full[slot], &bad);
    } else if constexpr (kBulk) {
      bulk_stage<T, HD, kStages>(p, ahead, g, k_begin + tile * kStageKeys, k_end, kd, vd, &full[slot], &bad);
    } else {
      load_stage<T, HD, kStages>(p, ahead, g, k_begin + tile * kStageKeys, k_end, kd, vd, &bad);
    }
  };
  // The prologue's tiles: with one page per thread and tile (the bulk loaders) all their block
  // table entries are loaded first, together (one round trip for all, where reading each after
  // the previous tile's copies were issued took one round trip per stage: the warp waits for a
  // tile's page at its copy), then their copies go out. The cp.async loader (8 pages per thread
  // and tile) keeps reading one tile's pages at a time, for its registers.
  const bool guessed_right = guessing && keys.seq == t;  // (k_begin is split_start)
#pragma unroll
  for (int s = 0; s < kAhead; ++s) {
    if (s < n_tiles) {
      if (guessed_right) {
        first[s].keep(k_begin + s * kStageKeys, k_end);
      } else {
        first[s].read(p, table, k_begin + s * kStageKeys, k_end);
      }
    }
  }
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < n_tiles) {
      if (s < kAhead) {
        ahead = first[s];
      } else {
        read_pages(s);
      }
      issue(s, s);
    }
    if constexpr (!kBulk) cp_async_commit();  // possibly empty: one group per stage keeps the wait count uniform
  }
  if (kStages - 1 < n_tiles) read_pages(kStages - 1);

  // A fragments of the chunk's 16 q rows (rows gid and gid + 8 of this lane), straight from q.
  const int h0 = chunk * kRows;  // first head-in-group of the chunk
  const T* q = static_cast<const T*>(p.q) + (size_t(t) * p.hq + size_t(g) * p.group + h0) * HD;
  const bool in0 = h0 + gid < p.group, in1 = h0 + gid + 8 < p.group;
  uint32_t qf[HD / 16][4];
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk) {
    const int col = 16 * kk + 2 * tig;
    qf[kk][0] = q_pair<T>(q + gid * HD, col, in0);
    qf[kk][1] = q_pair<T>(q + (gid + 8) * HD, col, in1);
    qf[kk][2] = q_pair<T>(q + gid * HD, col + 8, in0);
    qf[kk][3] = q_pair<T>(q + (gid + 8) * HD, col + 8, in1);
  }

  float o[HD / 8][4];
#pragma unroll
  for (int dt = 0; dt < HD / 8; ++dt) o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  const int limit[2] = {k_end - 1, k_end - 1};  // every row of the token sees the split's keys

  for (int it = 0; it < n_tiles; ++it) {
    if constexpr (kBulk) {
      // Slot it % kStages is on its (it / kStages)-th use: that phase's parity.
      mbarrier_wait(&full[it % kStages], uint32_t((it / kStages) & 1));
    } else {
      cp_async_wait<kStages - 2>();  // this thread's copies of stage `it` have landed
    }
    __syncthreads();  // everyone's have; and every warp is done with stage it - 1
    const int next = it + kStages - 1;
    if (next < n_tiles) {
      issue(next, next % kStages);
      if (next + 1 < n_tiles) read_pages(next + 1);  // lands while stage `it` computes
    }
    if constexpr (!kBulk) cp_async_commit();
    const int stage = it % kStages;
    if constexpr (kGroups) {
      const GroupedKeys wkeys{k_begin + it * kStageKeys + 2 * warp};
      if (wkeys.base < k_end) {  // (the warp's first key)
        const T* kt = k_s + stage * S::kTile + 2 * warp * HD;
        T* vt = v_s + stage * S::kTile + 2 * warp * HD;
        if (k_begin + (it + 1) * kStageKeys > k_end) zero_v_tail<T, HD>(vt, wkeys, k_end);
        mma_attend_rows<T, HD, kWarpKeys>(kt, vt, GroupedRows<HD>{}, wkeys, limit, p.scale_log2, qf, o, m, l);
      }
    } else {
      const int wstart = k_begin + it * kStageKeys + warp * kWarpKeys;
      if (wstart < k_end) {
        const T* kt = k_s + stage * S::kTile + warp * kWarpKeys * S::kRow;
        const T* vt = v_s + stage * S::kTile + warp * kWarpKeys * S::kRow;
        mma_attend_tile<T, HD, kWarpKeys, S::kRow>(kt, vt, wstart, limit, p.scale_log2, qf, o, m, l);
      }
    }
  }
  if constexpr (!kBulk) cp_async_wait<0>();  // (bulk: every issued stage was waited for above)
  __syncthreads();  // the pipeline's shared memory is free for the merge

  // Merge the warps' states: red_o [kWarps][16][HD], red_m / red_l [kWarps][16].
  float* red_o = reinterpret_cast<float*>(smem_raw);
  float* red_m = red_o + kWarps * kRows * HD;
  float* red_l = red_m + kWarps * kRows;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = gid + 8 * r;
    const float l_row = group_sum<4>(l[r]);  // the row's 4 lanes each hold a quarter of its keys
    if (tig == 0) {
      red_m[warp * kRows + row] = m[r];
      red_l[warp * kRows + row] = l_row;
    }
#pragma unroll
    for (int dt = 0; dt < HD / 8; ++dt) {
      float* dst = red_o + (warp * kRows + row) * HD + 8 * dt + 2 * tig;
      dst[0] = o[dt][2 * r];
      dst[1] = o[dt][2 * r + 1];
    }
  }
  __syncthreads();
  const bool poisoned = bad != 0 || !keys.valid;
  // The block's state of row `row`: mx = the warps' largest m, each warp's weight exp2(m_w - mx),
  // sum = the l rescaled to mx, worked out once per row (threads 0-15) into shared memory, so that
  // the per-element loop below is 4 multiply-adds and a multiply (it was the weights' exp2f, an
  // IEEE division and a log2f for every element: ~900 instructions per thread on the call's
  // critical path, sm_90 SASS). Warp 0 saw key k_begin, so mx is finite unless the split is empty
  // (a cluster block past the token's keys: mx = -inf, weights and sum 0); a warp that saw no key
  // has weight 0.
  float* row_w = red_l + kWarps * kRows + kRows * (HD + 3);  // [kWarps][kRows], past the cluster's state
  float* row_m = row_w + kWarps * kRows;
  float* row_sum = row_m + kRows;
  float* row_inv = row_sum + kRows;  // 1 / sum
  float* row_lse = row_inv + kRows;  // mx + log2(sum)
  if (threadIdx.x < kRows) {
    const int row = threadIdx.x;
    float mx = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, red_m[w * kRows + row]);
    float sum = 0.0f;  // (stays 0 when mx = -inf, also where a warp's l is NaN: all its scores were)
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float wgt = mx == -INFINITY ? 0.0f : exp2f(red_m[w * kRows + row] - mx);
      row_w[w * kRows + row] = wgt;
      if (mx != -INFINITY) sum += wgt * red_l[w * kRows + row];
    }
    row_m[row] = mx;
    row_sum[row] = sum;
    row_inv[row] = 1.0f / sum;
    row_lse[row] = mx + log2f(sum);
  }
  __syncthreads();
  const auto block_acc = [&](int row, int d) {
    float acc = 0.0f;
    if (row_m[row] == -INFINITY) return acc;  // (weights 0: not 0 x a NaN of unused shared memory)
#pragma unroll
    for (int w = 0; w < kWarps; ++w) acc += row_w[w * kRows + row] * red_o[(w * kRows + row) * HD + d];
    return acc;
  };
  if constexpr (!kCluster) {
    for (int idx = threadIdx.x; idx < kRows * HD; idx += kThreads) {
      const int row = idx / HD, d = idx % HD;
      if (h0 + row >= p.group) continue;
      // A poisoned split's lse is 0, never -inf, so that the merge (which skips -inf splits as empty)
      // carries its NaN: with the grouped loader a bad page's rows are stale shared memory, whose
      // scores may all be NaN (then mx = -inf and sum = 0 here).
      store_result<T, HD>(p, t, g * p.group + h0 + row, split, d, poisoned ? NAN : block_acc(row, d) * row_inv[row],
                          poisoned ? 0.0f : row_lse[row]);
    }
    if constexpr (kFused) merge_if_last<T, HD, kThreads>(p, t, g, chunk, h0, kRows);
  } else {
    // The cluster reduction: every block publishes its state in its own shared memory (cs_o
    // [16][HD], cs_m, cs_l [16], cs_bad), the cluster synchronises, then block r of the cluster
    // merges rows r, r + C, ... of all C blocks' states, read through distributed shared memory,
    // and stores them: the output when the cluster covers every split, else the cluster's
    // partial (index split / C) for the merge kernel. A second cluster sync keeps every block's
    // shared memory alive until the others have read it.
    namespace cg = cooperative_groups;
    cg::cluster_group cluster = cg::this_cluster();
    float* cs_o = red_l + kWarps * kRows;
    float* cs_m = cs_o + kRows * HD;
    float* cs_l = cs_m + kRows;
    float* cs_bad = cs_l + kRows;
    for (int idx = threadIdx.x; idx < kRows * HD; idx += kThreads) {
      const int row = idx / HD, d = idx % HD;
      cs_o[idx] = block_acc(row, d);
      if (d == 0) {
        cs_m[row] = row_m[row];
        cs_l[row] = row_sum[row];
      }
    }
    if (threadIdx.x == 0) cs_bad[0] = poisoned ? 1.0f : 0.0f;
    cluster.sync();
    const int rank = static_cast<int>(cluster.block_rank()), size = static_cast<int>(cluster.num_blocks());
    for (int idx = threadIdx.x; idx < kRows * HD; idx += kThreads) {
      const int row = idx / HD, d = idx % HD;
      if (row % size != rank || h0 + row >= p.group) continue;
      float mx = -INFINITY;
      bool any_bad = false;
      for (int b = 0; b < size; ++b) {
        mx = fmaxf(mx, cluster.map_shared_rank(cs_m, b)[row]);
        any_bad = any_bad || cluster.map_shared_rank(cs_bad, b)[0] != 0.0f;
      }
      float acc = 0.0f, sum = 0.0f;
      if (mx != -INFINITY) {
        for (int b = 0; b < size; ++b) {
          const float wgt = exp2f(cluster.map_shared_rank(cs_m, b)[row] - mx);
          acc += wgt * cluster.map_shared_rank(cs_o, b)[row * HD + d];
          sum += wgt * cluster.map_shared_rank(cs_l, b)[row];
        }
      }
      // A cluster whose blocks all lie past the token's keys: the merge kernel's empty partial
      // (weight 0); a token always has key 0, so the first cluster is never empty.
      const float val = any_bad ? NAN : mx == -INFINITY ? 0.0f : acc / sum;
      const float lse = any_bad ? 0.0f : mx == -INFINITY ? -INFINITY : mx + log2f(sum);
      store_result<T, HD>(p, t, g * p.group + h0 + row, split / size, d, val, lse);
    }
    cluster.sync();
  }
}

// Blocks per SM of one build on the current device: queried once per device (every decode call
// plans with it), then cached.
template <typename T, int HD, int kStages, Load kLoad, Reduce kReduce>
int occupancy() {
  constexpr size_t kBytes = DecodeMmaSmem<T, HD, kStages>::kBytes;
  static PerDevice<int> cached;  // blocks per SM
  return cached.get([](int) {
    allow_dynamic_smem(decode_mma_kernel<T, HD, kStages, kLoad, kReduce>, kBytes);
    int blocks = 0;
    GQA_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
        &blocks, decode_mma_kernel<T, HD, kStages, kLoad, kReduce>, kThreads, kBytes));
    GQA_CHECK(blocks > 0, kOp << ": the kernel for head_dim " << HD << " needs " << kBytes
                              << " bytes of shared memory per block, more than the device offers");
    return blocks;
  });
}

// The cluster build's resident blocks on the current device: whole clusters only (a cluster's
// blocks must share one GPC, so this may be below blocks per SM x SMs). Queried once per device.
template <typename T, int HD>
int cluster_slots() {
  constexpr size_t kBytes = DecodeMmaSmem<T, HD, kDecodeMmaStages>::kBytes;
  static PerDevice<int> cached;  // blocks
  return cached.get([](int) {
    const auto kernel = decode_mma_kernel<T, HD, kDecodeMmaStages, Load::kCpAsync, Reduce::kCluster>;
    allow_dynamic_smem(kernel, kBytes);
    cudaLaunchAttribute attr{};
    attr.id = cudaLaunchAttributeClusterDimension;
    attr.val.clusterDim.x = kDecodeCluster;
    attr.val.clusterDim.y = 1;
    attr.val.clusterDim.z = 1;
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = dim3(kDecodeCluster);
    cfg.blockDim = dim3(kThreads);
    cfg.dynamicSmemBytes = kBytes;
    cfg.attrs = &attr;
    cfg.numAttrs = 1;
    int clusters = 0;
    GQA_CUDA_CHECK(cudaOccupancyMaxActiveClusters(&clusters, kernel, &cfg));
    GQA_CHECK(clusters > 0, kOp << ": no cluster of " << kDecodeCluster << " blocks of " << kBytes
                                << " bytes of shared memory fits on the device");
    return clusters * kDecodeCluster;
  });
}

template <typename T, int HD, int kStages, Load kLoad, Reduce kReduce>
void launch(const DecodeParams& p, const DecodePlan& plan, int64_t n, cudaStream_t stream, int* merge_count) {
  constexpr size_t kBytes = DecodeMmaSmem<T, HD, kStages>::kBytes;
  allow_dynamic_smem(decode_mma_kernel<T, HD, kStages, kLoad, kReduce>, kBytes);
  const dim3 grid(static_cast<unsigned>(plan.blocks()), static_cast<unsigned>(p.hkv), static_cast<unsigned>(n));
  KernelParams<kReduce> kp{};
  static_cast<DecodeParams&>(kp) = p;
  if constexpr (kReduce == Reduce::kFused) kp.merge_count = merge_count;
  launch_pdl_cluster("attention decode_mma_kernel", decode_mma_kernel<T, HD, kStages, kLoad, kReduce>, grid, kThreads,
                     kBytes, stream, kReduce == Reduce::kCluster ? plan.cluster : 0, kp);
}

// Runs F<T, HD, S, L, R>::run(args...) for the call's dtype and head_dim, a pipeline depth S of
// 3 or 6, the loader L and the split reduction R (the cluster reduction: 3 stages, cp.async only;
// the grouped loader: 3 stages, not with the cluster reduction; the fused merge: any other).
template <template <typename, int, int, Load, Reduce> class F, typename T, int HD, Reduce R, typename... Args>
int dispatch_stages(int stages, Load load, Args&&... args) {
  if (stages == kDecodeMmaDeepStages) {
    return load == Load::kRows ? F<T, HD, 6, Load::kRows, R>::run(args...) : F<T, HD, 6, Load::kCpAsync, R>::run(args...);
  }
  if (load == Load::kGroups) return F<T, HD, 3, Load::kGroups, R>::run(args...);
  return load == Load::kRows ? F<T, HD, 3, Load::kRows, R>::run(args...) : F<T, HD, 3, Load::kCpAsync, R>::run(args...);
}
template <template <typename, int, int, Load, Reduce> class F, typename T, int HD, typename... Args>
int dispatch_loader(int stages, Load load, Reduce reduce, Args&&... args) {
  if (reduce == Reduce::kCluster) return F<T, HD, 3, Load::kCpAsync, Reduce::kCluster>::run(args...);
  if (reduce == Reduce::kFused) return dispatch_stages<F, T, HD, Reduce::kFused>(stages, load, args...);
  return dispatch_stages<F, T, HD, Reduce::kMergeKernel>(stages, load, args...);
}
template <template <typename, int, int, Load, Reduce> class F, typename... Args>
int dispatch(const AttentionArgs& a, int stages, Load load, Reduce reduce, Args&&... args) {
  const bool bf16 = a.q.dtype() == DType::kBF16, hd64 = a.q.dim(2) == 64;
  if (bf16) {
    return hd64 ? dispatch_loader<F, __nv_bfloat16, 64>(stages, load, reduce, args...)
                : dispatch_loader<F, __nv_bfloat16, 128>(stages, load, reduce, args...);
  }
  return hd64 ? dispatch_loader<F, __half, 64>(stages, load, reduce, args...)
              : dispatch_loader<F, __half, 128>(stages, load, reduce, args...);
}
// The loader a plan asks for.
Load load_of(bool bulk_copies, bool group_copies) {
  return group_copies ? Load::kGroups : bulk_copies ? Load::kRows : Load::kCpAsync;
}
template <typename T, int HD, int S, Load L, Reduce R>
struct Occupancy {
  static int run() { return occupancy<T, HD, S, L, R>(); }
};
template <typename T, int HD, int S, Load L, Reduce R>
struct ClusterSlots {
  static int run() { return R == Reduce::kCluster ? cluster_slots<T, HD>() : 0; }
};
template <typename T, int HD, int S, Load L, Reduce R>
struct Launch {
  static int run(const DecodeParams& p, const DecodePlan& plan, int64_t n, cudaStream_t stream, int* merge_count) {
    launch<T, HD, S, L, R>(p, plan, n, stream, merge_count);
    return 0;
  }
};

}  // namespace

bool decode_mma_supported(const AttentionArgs& a) {
  const DType dt = a.q.dtype();
  return a.q.ndim() == 3 && (dt == DType::kBF16 || dt == DType::kF16) && (a.q.dim(2) == 64 || a.q.dim(2) == 128);
}

namespace {

void check_mma_supported(const AttentionArgs& a) {
  GQA_CHECK(decode_mma_supported(a), kOp << ": no kernel for " << dtype_name(a.q.dtype()) << " q "
                                         << shape_str(a.q.shape()) << " (bf16/f16, head_dim 64 or 128)");
}

}  // namespace

int decode_mma_occupancy(const AttentionArgs& a, int stages, bool bulk, bool groups) {
  check_mma_supported(a);
  GQA_CHECK(stages == kDecodeMmaStages || stages == kDecodeMmaDeepStages,
            kOp << ": " << stages << " pipeline stages; compiled: " << kDecodeMmaStages << ", "
                << kDecodeMmaDeepStages);
  GQA_CHECK(!groups || stages == kDecodeMmaStages, kOp << ": the grouped loader is built for " << kDecodeMmaStages
                                                       << " stages, not " << stages);
  return dispatch<Occupancy>(a, stages, load_of(bulk, groups), Reduce::kMergeKernel);
}

int decode_mma_cluster_slots(const AttentionArgs& a) {
  check_mma_supported(a);
  return dispatch<ClusterSlots>(a, kDecodeMmaStages, Load::kCpAsync, Reduce::kCluster);
}

bool decode_group_copies_fit(const AttentionArgs& a) {
  return decode_mma_supported(a) && a.k_cache.ndim() == 4 && a.k_cache.dim(2) == 1 && a.k_cache.dim(1) % 8 == 0;
}

void launch_decode_mma(const AttentionArgs& a, const DecodeParams& p, const DecodePlan& plan, cudaStream_t stream,
                       int* merge_count) {
  GQA_CHECK(decode_mma_supported(a) && plan.head_chunk == kDecodeMmaHeadChunk &&
                (plan.stages == kDecodeMmaStages || plan.stages == kDecodeMmaDeepStages),
            kOp << ": called for " << dtype_name(a.q.dtype()) << " q " << shape_str(a.q.shape()) << " with head chunk "
                << plan.head_chunk << ", " << plan.stages << " stages");
  GQA_CHECK(plan.cluster == 0 || (plan.cluster == kDecodeCluster && plan.head_chunks == 1 &&
                                   plan.num_splits % plan.cluster == 0 && plan.stages == kDecodeMmaStages &&
                                   !plan.bulk_copies),
            kOp << ": cluster reduction of " << plan.cluster << " for a plan of " << plan.head_chunks
                << " head chunks, " << plan.num_splits << " splits");
  GQA_CHECK(!plan.fused_merge || (plan.cluster == 0 && plan.num_splits > 1 && merge_count != nullptr),
            kOp << ": fused merge for a plan of " << plan.num_splits << " splits, cluster " << plan.cluster
                << (merge_count == nullptr ? ", no counters" : ""));
  GQA_CHECK(!plan.group_copies || (plan.bulk_copies && plan.cluster == 0 && plan.stages == kDecodeMmaStages &&
                                    decode_group_copies_fit(a)),
            kOp << ": grouped copies for a plan of " << plan.stages << " stages, cluster " << plan.cluster
                << (plan.bulk_copies ? "" : ", no bulk copies") << ", cache " << shape_str(a.k_cache.shape())
                << " (needs one KV head and pages of a multiple of 8 keys)");
  const Reduce reduce = plan.cluster > 0 ? Reduce::kCluster : plan.fused_merge ? Reduce::kFused : Reduce::kMergeKernel;
  dispatch<Launch>(a, plan.stages, load_of(plan.bulk_copies, plan.group_copies), reduce, p, plan, a.q.dim(0), stream,
                   merge_count);
}

}  // namespace gqa::cuda
