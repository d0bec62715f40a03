// Split-KV GQA decode attention (see attention_decode.h for the contract).
//
// Block: 128 threads; grid (num_splits * head_chunks, hkv, n_tokens), the chunk index fastest so
// the chunk blocks of one split run side by side. A block owns keys [k_begin, k_end) of its
// token's sequence and GC query heads, and loops over 64-key tiles:
//   load   cp.async, 16 bytes per thread per copy, double-buffered: tile i+1 is in flight while
//          tile i is computed; each key's page comes from the block table.
//   QK     thread = (key j, half of head_dim): GC partial dot products from one K read, q in
//          shared memory as f32 pre-scaled by scale * log2(e) (broadcast reads).
//   softmax warp w owns heads w, w+4: tile max, running max m, rescale alpha = exp2(m - m_new),
//          p = exp2(s - m_new) into shared memory, running sum d.
//   PV     thread = (16-byte slice of head_dim, key slot): o[GC][vec] *= alpha, += p * V; each V
//          read serves all GC heads.
// At the end the key slots' partial o are summed through shared memory; one split writes out
// = o / d, several write o / d and lse = m + log2(d) in f32 for merge_kernel.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <atomic>
#include <cmath>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/attention_decode_mma.h"
#include "kernels/cuda/attention_decode_params.cuh"
#include "kernels/cuda/attention_merge.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/kept_scratch.h"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/per_device.h"

namespace gqa::cuda {
namespace {

using namespace attn;

constexpr const char* kOp = "cuda attention (decode)";
constexpr int kThreads = 128;
constexpr int kTile = kDecodeTileKeys;
constexpr int kQkParts = kThreads / kTile;  // threads sharing one key's dot product


// Shared memory of one block, byte offsets. K/V rows are padded by 16 bytes so the 16-byte reads
// of 8 consecutive rows at one column land in 8 different bank groups.
//
// Head dims 16 and 32 use the same mappings: QK needs each thread's half row (HD / 2 elements)
// to be whole 16-byte vectors (HD % 16 == 0 for bf16/f16, % 8 for f32); load and PV use
// HD / kVec lanes per row (2..32), i.e. 64..4 key slots, each a divisor of the 64-key tile.
// Only the epilogue's buffer (kSlots * GC * HD floats = 128 * kVec * GC floats, independent of
// HD) can outgrow the small K/V tiles, so the K/V area is sized for whichever is larger.
template <typename T, int HD, int GC>
struct DecodeSmem {
  static constexpr int kVec = vec_of<T>();
  static constexpr int kRow = HD + kVec;                    // elements per padded K/V row
  static constexpr int kLanesPerRow = HD / kVec;            // PV threads covering one V row
  static constexpr int kSlots = kThreads / kLanesPerRow;    // PV key slots
  static constexpr size_t kTileBytes = size_t(kTile) * kRow * sizeof(T);
  static constexpr size_t kRedBytes = size_t(kSlots) * GC * HD * 4;  // epilogue: f32 [kSlots][GC][HD]
  static constexpr size_t kKVBytes = 4 * kTileBytes > kRedBytes ? 4 * kTileBytes : kRedBytes;
  static constexpr size_t kK = 0;                           // T [2 stages][kTile][kRow]
  static constexpr size_t kV = kK + 2 * kTileBytes;         // T [2 stages][kTile][kRow]
  static constexpr size_t kQ = kK + kKVBytes;               // f32 [GC][HD]
  static constexpr size_t kS = kQ + size_t(GC) * HD * 4;    // f32 [kQkParts][kTile][GC]
  static constexpr size_t kP = kS + size_t(kQkParts) * kTile * GC * 4;  // f32 [kTile][GC]
  static constexpr size_t kStats = kP + size_t(kTile) * GC * 4;         // f32 alpha, m, d [GC]
  static constexpr size_t kFlag = kStats + 3 * GC * 4;                  // int: bad page seen
  static constexpr size_t kBytes = kFlag + 16;
  static_assert(kLanesPerRow >= 1 && kLanesPerRow * kVec == HD && kThreads % kLanesPerRow == 0, "PV lanes");
  static_assert(kTile % kSlots == 0 && kTile % 32 == 0 && HD % (kQkParts * kVec) == 0, "tile shape");
  static_assert(kTileBytes % 16 == 0 && kKVBytes % 16 == 0 && (size_t(kRow) * sizeof(T)) % 16 == 0,
                "16-byte aligned rows, tiles and q");
};

// Issues the copies of keys [start, start + kTile) ∩ [.., k_end) of KV head g into one stage.
template <typename T, int HD, int GC>
__device__ void load_tile(const DecodeParams& p, const int32_t* table, int g, int start, int k_end, T* k_dst,
                          T* v_dst, int* bad) {
  using S = DecodeSmem<T, HD, GC>;
  const T* k_cache = static_cast<const T*>(p.k_cache);
  const T* v_cache = static_cast<const T*>(p.v_cache);
  static_assert(kTile * S::kLanesPerRow % kThreads == 0, "whole 16-byte copies per thread");
#pragma unroll
  for (int r = 0; r < kTile * S::kLanesPerRow / kThreads; ++r) {
    const int c = threadIdx.x + r * kThreads;
    const int j = c / S::kLanesPerRow, e = (c % S::kLanesPerRow) * S::kVec;
    const int key = start + j;
    const bool in = key < k_end;
    size_t off = 0;
    if (in) {
      int page = table[p.page_index(key)];
      if (!p.page_in_cache(page)) {
        *bad = 1;
        page = 0;
      }
      off = p.row_offset(page, key, g, HD) + e;
    }
    cp_async_16(k_dst + j * S::kRow + e, k_cache + off, in);
    cp_async_16(v_dst + j * S::kRow + e, v_cache + off, in);
  }
}

// s_part[part][j][i] = q_i · K_j over this thread's half of head_dim.
template <typename T, int HD, int GC>
__device__ __forceinline__ void tile_scores(const T* k_tile, const float* q_s, float* s_part) {
  using S = DecodeSmem<T, HD, GC>;
  constexpr int kDims = HD / kQkParts;
  const int j = threadIdx.x % kTile, part = threadIdx.x / kTile;
  const T* krow = k_tile + j * S::kRow + part * kDims;
  float s[GC];
#pragma unroll
  for (int i = 0; i < GC; ++i) s[i] = 0.0f;
#pragma unroll
  for (int e0 = 0; e0 < kDims; e0 += S::kVec) {
    float k[S::kVec];
    unpack16<T>(*reinterpret_cast<const uint4*>(krow + e0), k);
#pragma unroll
    for (int i = 0; i < GC; ++i) {
      const float4* q4 = reinterpret_cast<const float4*>(q_s + i * HD + part * kDims + e0);
#pragma unroll
      for (int v = 0; v < S::kVec / 4; ++v) {
        const float4 q = q4[v];
        s[i] += q.x * k[4 * v] + q.y * k[4 * v + 1] + q.z * k[4 * v + 2] + q.w * k[4 * v + 3];
      }
    }
  }
#pragma unroll
  for (int i = 0; i < GC; ++i) s_part[(part * kTile + j) * GC + i] = s[i];
}

// Online-softmax step of one tile for the heads of this warp: p_s[j][i] = exp2(s - m_new),
// alpha_s[i] = exp2(m - m_new) (0 on the first tile), d = d * alpha + sum(p). Keys >= k_end
// get p = 0. The tile has at least one valid key, so m_new is finite.
template <int GC>
__device__ __forceinline__ void tile_softmax(const float* s_part, int start, int k_end, float* p_s, float* alpha_s,
                                             float* m_s, float* d_s) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int i = warp; i < GC; i += kThreads / 32) {
    float s[kTile / 32];
    float tmax = -INFINITY;
#pragma unroll
    for (int r = 0; r < kTile / 32; ++r) {
      const int j = lane + 32 * r;
      float v = -INFINITY;
      if (start + j < k_end) {
        v = 0.0f;
#pragma unroll
        for (int part = 0; part < kQkParts; ++part) v += s_part[(part * kTile + j) * GC + i];
      }
      s[r] = v;
      tmax = fmaxf(tmax, v);
    }
    const float m_old = m_s[i];
    const float m_new = fmaxf(m_old, group_max(tmax));
    float sum = 0.0f;
#pragma unroll
    for (int r = 0; r < kTile / 32; ++r) {
      const float pv = exp2f(s[r] - m_new);
      p_s[(lane + 32 * r) * GC + i] = pv;
      sum += pv;
    }
    sum = group_sum(sum);
    __syncwarp();  // every lane has read m_s[i] before lane 0 replaces it
    if (lane == 0) {
      const float alpha = exp2f(m_old - m_new);
      alpha_s[i] = alpha;
      d_s[i] = d_s[i] * alpha + sum;
      m_s[i] = m_new;
    }
  }
}

// o[i][:] = o[i][:] * alpha_i + sum over this thread's key slot of p[j][i] * V_j[slice].
template <typename T, int HD, int GC>
__device__ __forceinline__ void tile_pv(const T* v_tile, const float* p_s, const float* alpha_s,
                                        float (&o)[GC][vec_of<T>()]) {
  using S = DecodeSmem<T, HD, GC>;
  const int c = threadIdx.x % S::kLanesPerRow, slot = threadIdx.x / S::kLanesPerRow;
#pragma unroll
  for (int i = 0; i < GC; ++i) {
    const float alpha = alpha_s[i];
#pragma unroll
    for (int e = 0; e < S::kVec; ++e) o[i][e] *= alpha;
  }
#pragma unroll
  for (int j = slot; j < kTile; j += S::kSlots) {
    float v[S::kVec];
    unpack16<T>(*reinterpret_cast<const uint4*>(v_tile + j * S::kRow + c * S::kVec), v);
#pragma unroll
    for (int i = 0; i < GC; ++i) {
      const float pj = p_s[j * GC + i];
#pragma unroll
      for (int e = 0; e < S::kVec; ++e) o[i][e] += pj * v[e];
    }
  }
}

template <typename T, int HD, int GC>
__global__ void __launch_bounds__(kThreads) decode_kernel(const DecodeParams p) {
  pdl_wait();
  using S = DecodeSmem<T, HD, GC>;
  extern __shared__ __align__(16) unsigned char smem[];
  T* k_tiles = reinterpret_cast<T*>(smem + S::kK);
  T* v_tiles = reinterpret_cast<T*>(smem + S::kV);
  float* q_s = reinterpret_cast<float*>(smem + S::kQ);
  float* s_part = reinterpret_cast<float*>(smem + S::kS);
  float* p_s = reinterpret_cast<float*>(smem + S::kP);
  float* alpha_s = reinterpret_cast<float*>(smem + S::kStats);
  float* m_s = alpha_s + GC;
  float* d_s = m_s + GC;
  int* bad = reinterpret_cast<int*>(smem + S::kFlag);

  const int chunk = blockIdx.x % p.head_chunks, split = blockIdx.x / p.head_chunks;
  const int g = blockIdx.y, t = blockIdx.z;
  const SplitKeys keys = split_keys<kTile>(p, t, split);
  const int seq = keys.seq, k_begin = keys.k_begin, k_end = keys.k_end;
  if (k_begin >= k_end) {  // an empty split (o = 0, lse = -inf: weight 0) or an invalid token (NaN)
    store_empty<T, HD>(p, t, g, chunk * GC, GC, split, keys.valid);
    return;
  }

  for (int idx = threadIdx.x; idx < GC * HD; idx += kThreads) {
    const int gh = chunk * GC + idx / HD;  // heads past the group are zero rows, never stored
    const T* q = static_cast<const T*>(p.q) + (size_t(t) * p.hq + g * p.group + gh) * HD + idx % HD;
    q_s[idx] = gh < p.group ? load_f32<T>(*q) * p.scale_log2 : 0.0f;
  }
  if (threadIdx.x < GC) {
    m_s[threadIdx.x] = -INFINITY;
    d_s[threadIdx.x] = 0.0f;
  }
  if (threadIdx.x == 0) *bad = 0;
  __syncthreads();  // *bad = 0 before any loader can set it

  const int32_t* table = p.block_tables + size_t(seq) * p.max_blocks;
  float o[GC][S::kVec] = {};
  const int n_tiles = (k_end - k_begin + kTile - 1) / kTile;
  load_tile<T, HD, GC>(p, table, g, k_begin, k_end, k_tiles, v_tiles, bad);
  cp_async_commit();
  for (int it = 0; it < n_tiles; ++it) {
    const int stage = it & 1, start = k_begin + it * kTile;
    if (it + 1 < n_tiles) {
      load_tile<T, HD, GC>(p, table, g, start + kTile, k_end, k_tiles + (stage ^ 1) * kTile * S::kRow,
                           v_tiles + (stage ^ 1) * kTile * S::kRow, bad);
    }
    cp_async_commit();  // possibly empty: keeps "all but the newest group" = tile `it`
    cp_async_wait<1>();
    __syncthreads();
    tile_scores<T, HD, GC>(k_tiles + stage * kTile * S::kRow, q_s, s_part);
    __syncthreads();
    tile_softmax<GC>(s_part, start, k_end, p_s, alpha_s, m_s, d_s);
    __syncthreads();
    tile_pv<T, HD, GC>(v_tiles + stage * kTile * S::kRow, p_s, alpha_s, o);
    __syncthreads();  // the next iteration overwrites this stage, s_part, p_s and alpha_s
  }
  cp_async_wait<0>();
  __syncthreads();

  // Sum the key slots' partial o: red[slot][i][HD] over the idle K/V area (kKVBytes, sized for it).
  float* red = reinterpret_cast<float*>(smem + S::kK);
  const int c = threadIdx.x % S::kLanesPerRow, slot = threadIdx.x / S::kLanesPerRow;
#pragma unroll
  for (int i = 0; i < GC; ++i) {
#pragma unroll
    for (int e = 0; e < S::kVec; ++e) red[(slot * GC + i) * HD + c * S::kVec + e] = o[i][e];
  }
  __syncthreads();
  const bool poisoned = *bad != 0;
  for (int idx = threadIdx.x; idx < GC * HD; idx += kThreads) {
    const int i = idx / HD, gh = chunk * GC + i;
    if (gh >= p.group) continue;
    float acc = 0.0f;
#pragma unroll
    for (int s = 0; s < S::kSlots; ++s) acc += red[s * GC * HD + idx];
    const float dsum = d_s[i];  // >= 1: the key at the running max contributes exp2(0)
    store_result<T, HD>(p, t, g * p.group + gh, split, idx % HD, poisoned ? NAN : acc / dsum,
                        m_s[i] + log2f(dsum));
  }
}

// Turns on > 48 KB of dynamic shared memory for this instantiation on the current device and
// returns its occupancy (blocks per SM); done once per device, then cached.
template <typename T, int HD, int GC>
int prepare_kernel() {
  using S = DecodeSmem<T, HD, GC>;
  static PerDevice<int> occupancy;  // blocks per SM
  return occupancy.get([](int) {
    GQA_CUDA_CHECK(cudaFuncSetAttribute(decode_kernel<T, HD, GC>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(S::kBytes)));
    int blocks = 0;
    GQA_CUDA_CHECK(
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, decode_kernel<T, HD, GC>, kThreads, S::kBytes));
    GQA_CHECK(blocks > 0, kOp << ": the kernel for head_dim " << HD << " needs " << S::kBytes
                              << " bytes of shared memory per block, more than the device offers");
    return blocks;
  });
}

// The occupancy of the kernel `a` dispatches to (sets its shared-memory limit as a side effect).
int kernel_occupancy(const AttentionArgs& a, int head_chunk) {
  int blocks = 0;
  GQA_ATTN_DISPATCH_DTYPE(a.q.dtype(), kOp, T,
    GQA_ATTN_DISPATCH_HEAD_DIM(a.q.dim(2), kOp, HD,
      GQA_ATTN_DISPATCH_GROUP_CHUNK(head_chunk, kOp, GC, blocks = prepare_kernel<T, HD, GC>();)))
  return blocks;
}

DecodeParams make_params(const AttentionArgs& a, const AttentionDims& d, const DecodePlan& plan) {
  DecodeParams p{};
  p.set_operands(a, d);
  p.head_chunks = plan.head_chunks;
  p.num_splits = plan.num_splits;
  p.tiles_per_split = plan.tiles_per_split;
  p.num_partials = plan.partials();
  p.kv_prefetch = plan.kv_prefetch ? 1 : 0;
  return p;
}

template <typename T, int HD, int GC>
void launch(const DecodeParams& p, const DecodePlan& plan, int64_t n, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(plan.blocks()), static_cast<unsigned>(p.hkv), static_cast<unsigned>(n));
  launch_pdl("attention decode_kernel", decode_kernel<T, HD, GC>, grid, kThreads, DecodeSmem<T, HD, GC>::kBytes,
             stream, p);
}

// The plan for a validated call (sets the kernel's shared-memory limit as a side effect).
DecodePlan checked_plan(const AttentionArgs& a, const AttentionDims& d, const DecodeOptions& opt) {
  GQA_CHECK(a.max_context >= 1 && a.max_context <= d.max_blocks * d.block_size,
            kOp << ": max_context " << a.max_context << " must be the largest positions[t] + 1, within the "
                << d.max_blocks * d.block_size << " positions block_tables " << shape_str(a.block_tables.shape())
                << " can address");
  GQA_CHECK(d.n <= 65535, kOp << ": " << d.n << " tokens exceed the decode grid (65535)");
  GQA_CHECK(d.hkv <= 65535, kOp << ": " << d.hkv << " KV heads exceed the decode grid (65535)");
  GQA_CHECK(opt.num_splits >= 0, kOp << ": negative num_splits " << opt.num_splits);
  const bool mma = decode_mma_supported(a);
  const int chunk = mma ? kDecodeMmaHeadChunk : decode_head_chunk(d.group());
  const int stages = mma ? (opt.stages > 0 ? opt.stages : kDecodeMmaStages) : 0;
  GQA_CHECK(opt.stages >= 0, kOp << ": negative stages " << opt.stages);
  // The fused merge reads every split's partial; the cluster reduction leaves one per cluster for
  // the merge kernel: the two do not combine (checked on the requests, so the answer does not
  // depend on the shape).
  const bool fused_asked = opt.fused_merge || decode_fused_merge_enabled();
  GQA_CHECK(!(fused_asked && (opt.cluster_reduce || decode_cluster_enabled())),
            kOp << ": the fused merge (DecodeOptions::fused_merge / GQA_DECODE_FUSED_MERGE) and the cluster "
                   "reduction (DecodeOptions::cluster_reduce / GQA_DECODE_CLUSTER) cannot be combined");
  // The cluster reduction: tensor cores, 3 stages, the cp.async loader, one head chunk (checked by
  // the plan); asked for with the default loader, it takes cp.async.
  const bool cluster_asked = mma && (opt.cluster_reduce || decode_cluster_enabled()) && stages == kDecodeMmaStages;
  const bool default_bulk = opt.loader == DecodeLoader::kDefault && decode_bulk_enabled() && !cluster_asked;
  const bool bulk = mma && (opt.loader == DecodeLoader::kBulk || opt.loader == DecodeLoader::kGroups || default_bulk);
  const bool cluster = cluster_asked && !bulk;
  // The grouped copies where asked for (or switched on for the default loader) and the shape and
  // depth allow them; else one copy per row.
  const bool groups = bulk && stages == kDecodeMmaStages && decode_group_copies_fit(a) &&
                      (opt.loader == DecodeLoader::kGroups || (default_bulk && decode_group_copies_enabled()));
  // The one-wave fused plan (an opt-in) where it serves a call that leaves the split count, the
  // merge, the loader and the depth to their defaults (and asks for no cluster reduction): fewer
  // splits, merged in their last blocks. Else the plan for the kernel's occupancy.
  std::optional<DecodePlan> one_wave;
  if (mma && !opt.fused_merge && !opt.cluster_reduce && opt.num_splits == 0 && opt.stages == 0 &&
      opt.loader == DecodeLoader::kDefault && decode_one_wave_fused_by_default()) {
    one_wave = plan_decode_one_wave_fused(d.n, d.hkv, d.group(), a.max_context, current_sm_count(), chunk);
  }
  DecodePlan plan;
  if (one_wave) {
    plan = *one_wave;  // (fused_merge set)
  } else {
    const int64_t target =
        int64_t(mma ? decode_mma_occupancy(a, stages, bulk, groups) : kernel_occupancy(a, chunk)) * current_sm_count();
    plan = plan_decode(d.n, d.hkv, d.group(), a.max_context, target, opt.num_splits, chunk,
                       cluster ? kDecodeCluster : 0, cluster ? decode_mma_cluster_slots(a) : 0);
    // One split: the kernel writes the output. The process switch: only where the last block's
    // merge stays short (kDecodeFusedMergeMaxSplits).
    plan.fused_merge = decode_merge_fused(mma, plan.num_splits, opt.fused_merge, fused_asked);
  }
  plan.tensor_cores = mma;
  plan.stages = stages;
  plan.bulk_copies = bulk;
  plan.group_copies = groups;
  plan.kv_prefetch = mma && (opt.kv_prefetch || decode_kv_prefetch_enabled());
  return plan;
}

}  // namespace

GQA_PROCESS_SWITCH(decode_cluster_enabled, set_decode_cluster, "GQA_DECODE_CLUSTER", false)
GQA_PROCESS_SWITCH(decode_bulk_enabled, set_decode_bulk, "GQA_DECODE_BULK", true)
GQA_PROCESS_SWITCH(decode_kv_prefetch_enabled, set_decode_kv_prefetch, "GQA_DECODE_KV_PREFETCH", true)
GQA_PROCESS_SWITCH(decode_fused_merge_enabled, set_decode_fused_merge, "GQA_DECODE_FUSED_MERGE", false)
GQA_PROCESS_SWITCH(decode_one_wave_fused_enabled, set_decode_one_wave_fused, "GQA_DECODE_ONE_WAVE_FUSED", false)
GQA_PROCESS_SWITCH(decode_group_copies_enabled, set_decode_group_copies, "GQA_DECODE_GROUP_COPIES", true)

bool decode_one_wave_fused_by_default() {
  return decode_one_wave_fused_enabled() && !decode_fused_merge_enabled() && !decode_cluster_enabled();
}

DecodePlan describe_decode(const AttentionArgs& a, const DecodeOptions& opt) {
  const AttentionDims d = check_attention_args(a, kOp);
  GQA_CHECK(d.n >= 1, kOp << ": no tokens to plan for");
  return checked_plan(a, d, opt);
}

size_t decode_workspace_bytes(const AttentionArgs& a, const DecodeOptions& opt) {
  const AttentionDims d = check_attention_args(a, kOp);
  return d.n == 0 ? 0 : decode_partials_floats(d.n, d.hq, d.hkv, d.hd, checked_plan(a, d, opt)).total() * sizeof(float);
}

void attention_decode(const AttentionArgs& a, cudaStream_t stream, const DecodeOptions& opt) {
  const AttentionDims d = check_attention_args(a, kOp);
  if (d.n == 0) return;
  const DecodePlan plan = checked_plan(a, d, opt);
  DecodeParams p = make_params(a, d, plan);
  const DecodePartials parts = decode_partials_floats(d.n, d.hq, d.hkv, d.hd, plan);
  const size_t bytes = parts.total() * sizeof(float);
  int* merge_count = nullptr;  // the fused merge's counters
  if (bytes > 0) {
    GQA_CHECK(opt.workspace == nullptr || opt.workspace_bytes >= bytes,
              kOp << ": workspace of " << opt.workspace_bytes << " bytes, " << bytes << " needed");
    GQA_CHECK(reinterpret_cast<uintptr_t>(opt.workspace) % 16 == 0, kOp << ": workspace must be 16-byte aligned");
    // The fused merge's counters come from the stream's zeroed buffer, with or without a caller's
    // workspace (their place in a workspace would move with the plan, so a call of another shape
    // could overwrite them); only where that buffer cannot grow now (a capture that needs more)
    // do they sit after the call's partials, zeroed on the stream by this call.
    int* kept = parts.counters > 0 ? stream_merge_counters(stream, parts.counters) : nullptr;
    void* scratch = opt.workspace;
    if (scratch == nullptr) {
      scratch = kept_scratch(KeptScratch::kDecodePartials, stream,
                             kept != nullptr ? parts.counter_offset * sizeof(float) : bytes);
    }
    merge_count = kept;
    p.part_o = static_cast<float*>(scratch);
    p.part_lse = p.part_o + parts.lse_offset;
    if (parts.counters > 0 && merge_count == nullptr) {
      merge_count = reinterpret_cast<int*>(p.part_o + parts.counter_offset);
      GQA_CUDA_CHECK(cudaMemsetAsync(merge_count, 0, parts.counters * sizeof(int), stream));
    }
  }
  if (plan.tensor_cores) {
    launch_decode_mma(a, p, plan, stream, merge_count);
  } else {
    GQA_ATTN_DISPATCH_DTYPE(a.q.dtype(), kOp, T,
      GQA_ATTN_DISPATCH_HEAD_DIM(d.hd, kOp, HD,
        GQA_ATTN_DISPATCH_GROUP_CHUNK(plan.head_chunk, kOp, GC, launch<T, HD, GC>(p, plan, d.n, stream);)))
  }
  if (plan.partials() > 1 && !plan.fused_merge) {
    const int64_t rows = d.n * d.hq;
    AttentionMergeArgs m;
    m.part_o = Tensor::view(p.part_o, DType::kF32, {rows, plan.partials(), d.hd}, Device::kCuda);
    m.part_lse = Tensor::view(p.part_lse, DType::kF32, {rows, plan.partials()}, Device::kCuda);
    m.out = a.out.reshape({rows, d.hd});
    attention_merge(m, stream);
  }
}

}  // namespace gqa::cuda
