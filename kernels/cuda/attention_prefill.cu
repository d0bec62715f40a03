// Tiled prefill attention (see attention_prefill.h for the contract).
//
// Block: 128 threads = 32 query rows (tokens) x 4 threads; grid (hq, ceil(n / 32)).
// A block handles its rows one sequence at a time ("passes"; usually one): for the sequence of the
// first unfinished row it streams keys [0, max position + 1 of that sequence's rows) in 32-key
// tiles. Per tile:
//   load    16-byte loads of K and V through the block table, converted to f32 in shared memory
//   scores  thread (row r, part) scores keys part, part+4, ... against q_r (f32, pre-scaled by
//           scale * log2(e)); keys past the row's position, and all keys of rows not in the
//           pass, are -inf
//   softmax tile max and sum over the row's 4 threads (shuffles), p into shared memory
//   PV      thread (row r, part) owns dims 16k + 4 part + {0..3} of the row's tile output
//   merge   the tile's {o, m, d} is merged into the row's SoftmaxState
// Every mapping holds for any head_dim that is a multiple of 16 (16, 32, 64, 128 are compiled):
// scores step 4 dims at a time, PV/output cover HD / 16 groups of 16 dims (4 per thread), and the
// tile loader's HD / vec 16-byte chunks per key (2..32) are spread over the block by a strided loop.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_prefill.h"
#include "kernels/cuda/cuda_check.h"

namespace gqa::cuda {
namespace {

using namespace attn;

constexpr const char* kOp = "cuda attention (prefill)";
constexpr int kThreads = 128;
constexpr int kRows = 32;                          // query tokens per block
constexpr int kRowThreads = kThreads / kRows;      // threads per query row
constexpr int kKeys = 32;                          // keys per tile
constexpr int kKeysPerThread = kKeys / kRowThreads;
constexpr int kPRow = kKeys + 1;                   // padded p row: 8 rows' reads hit 8 banks

struct PrefillParams : PagedParams {
  int n;  // tokens
};

// Shared memory (f32), offsets in floats. q and K rows are padded by 4 floats so the float4
// reads of 8 different rows at one column hit 8 different bank groups.
template <int HD>
struct PrefillSmem {
  static_assert(HD % (4 * kRowThreads) == 0, "each of a row's 4 threads owns 4 dims of every 16");
  static constexpr int kRow = HD + 4;
  static constexpr int kQ = 0;                      // [kRows][kRow]
  static constexpr int kK = kQ + kRows * kRow;      // [kKeys][kRow]
  static constexpr int kV = kK + kKeys * kRow;      // [kKeys][HD]
  static constexpr int kP = kV + kKeys * HD;        // [kRows][kPRow]
  static constexpr size_t kBytes = size_t(kP + kRows * kPRow) * sizeof(float);
};

// Per-row bookkeeping: row_seq = sequence (-1 invalid token, -2 no token), done = handled.
struct RowInfo {
  int seq[kRows];
  int pos[kRows];
  int done[kRows];
  int pass_seq, pass_end, pass_bad;
};

// K and V of keys [start, start + kKeys) ∩ [.., end) of KV head g, as f32 (zeros past end).
template <typename T, int HD>
__device__ void load_tile_f32(const PrefillParams& p, const int32_t* table, int g, int start, int end, float* k_s,
                              float* v_s, int* bad) {
  constexpr int kVec = vec_of<T>(), kLanes = HD / kVec;
  const T* k_cache = static_cast<const T*>(p.k_cache);
  const T* v_cache = static_cast<const T*>(p.v_cache);
  for (int c = threadIdx.x; c < kKeys * kLanes; c += kThreads) {
    const int j = c / kLanes, e = (c % kLanes) * kVec, key = start + j;
    float kf[kVec], vf[kVec];
    if (key < end) {
      int page = table[p.page_index(key)];
      if (!p.page_in_cache(page)) {
        *bad = 1;
        page = 0;
      }
      const size_t off = p.row_offset(page, key, g, HD) + e;
      unpack16<T>(*reinterpret_cast<const uint4*>(k_cache + off), kf);
      unpack16<T>(*reinterpret_cast<const uint4*>(v_cache + off), vf);
    } else {
#pragma unroll
      for (int i = 0; i < kVec; ++i) kf[i] = vf[i] = 0.0f;
    }
#pragma unroll
    for (int i = 0; i < kVec; i += 4) {
      *reinterpret_cast<float4*>(k_s + j * PrefillSmem<HD>::kRow + e + i) = make_float4(kf[i], kf[i + 1], kf[i + 2], kf[i + 3]);
      *reinterpret_cast<float4*>(v_s + j * HD + e + i) = make_float4(vf[i], vf[i + 1], vf[i + 2], vf[i + 3]);
    }
  }
}

// One tile for this thread's row: keys start + j with j = part + 4m are valid iff <= limit
// (limit = -1: the row sits out this pass). Merges the tile's {o, m, d} into `st`.
template <int HD>
__device__ __forceinline__ void prefill_tile(const float* q_s, const float* k_s, const float* v_s, float* p_s,
                                             int start, int limit, SoftmaxState<HD / kRowThreads>& st) {
  constexpr int kRow = PrefillSmem<HD>::kRow;
  const int r = threadIdx.x / kRowThreads, part = threadIdx.x % kRowThreads;
  float s[kKeysPerThread] = {};
  for (int d = 0; d < HD; d += 4) {
    const float4 q = *reinterpret_cast<const float4*>(q_s + r * kRow + d);
#pragma unroll
    for (int m = 0; m < kKeysPerThread; ++m) {
      const float4 k = *reinterpret_cast<const float4*>(k_s + (part + kRowThreads * m) * kRow + d);
      s[m] += q.x * k.x + q.y * k.y + q.z * k.z + q.w * k.w;
    }
  }
  float tmax = -INFINITY;
#pragma unroll
  for (int m = 0; m < kKeysPerThread; ++m) {
    if (start + part + kRowThreads * m > limit) s[m] = -INFINITY;
    tmax = fmaxf(tmax, s[m]);
  }
  tmax = group_max<kRowThreads>(tmax);
  float dsum = 0.0f;
#pragma unroll
  for (int m = 0; m < kKeysPerThread; ++m) {
    const float pv = s[m] == -INFINITY ? 0.0f : exp2f(s[m] - tmax);
    p_s[r * kPRow + part + kRowThreads * m] = pv;
    dsum += pv;
  }
  dsum = group_sum<kRowThreads>(dsum);
  __syncwarp();  // the row's p (written by its 4 threads, all in this warp) is visible
  float o[HD / kRowThreads] = {};
  for (int j = 0; j < kKeys; ++j) {
    const float pj = p_s[r * kPRow + j];
#pragma unroll
    for (int k = 0; k < HD / 16; ++k) {
      const float4 v = *reinterpret_cast<const float4*>(v_s + j * HD + 16 * k + 4 * part);
      o[4 * k] += pj * v.x;
      o[4 * k + 1] += pj * v.y;
      o[4 * k + 2] += pj * v.z;
      o[4 * k + 3] += pj * v.w;
    }
  }
  st.merge(o, tmax, dsum);  // no-op when the row had no valid key in this tile
}

// Thread 0: the next pass = the first unfinished row's sequence and the keys its rows need.
__device__ void pick_pass(RowInfo& ri) {
  pick_next_pass<kRows>(ri);
  ri.pass_bad = 0;
}

template <typename T, int HD>
__global__ void __launch_bounds__(kThreads) prefill_kernel(const PrefillParams p) {
  using S = PrefillSmem<HD>;
  extern __shared__ __align__(16) float smem_f[];
  __shared__ RowInfo ri;
  const int h = blockIdx.x, g = h / p.group, t0 = blockIdx.y * kRows;
  const int r = threadIdx.x / kRowThreads, part = threadIdx.x % kRowThreads;
  if (threadIdx.x < kRows) {
    const int t = t0 + threadIdx.x;
    init_pass_row(p, ri, threadIdx.x, t < p.n, t);
  }
  for (int idx = threadIdx.x; idx < kRows * HD; idx += kThreads) {
    const int rr = idx / HD, d = idx % HD, t = t0 + rr;
    const T* q = static_cast<const T*>(p.q) + (size_t(t) * p.hq + h) * HD + d;
    smem_f[S::kQ + rr * S::kRow + d] = t < p.n ? load_f32<T>(*q) * p.scale_log2 : 0.0f;
  }
  SoftmaxState<HD / kRowThreads> st;
  st.init();
  bool row_bad = false;
  for (;;) {
    __syncthreads();  // row info and q staged / previous pass finished
    if (threadIdx.x == 0) pick_pass(ri);
    __syncthreads();
    const int seq = ri.pass_seq, end = ri.pass_end;
    if (seq < 0) break;
    const bool active = ri.seq[r] == seq && !ri.done[r];
    const int32_t* table = p.block_tables + size_t(seq) * p.max_blocks;
    for (int start = 0; start < end; start += kKeys) {
      load_tile_f32<T, HD>(p, table, g, start, end, smem_f + S::kK, smem_f + S::kV, &ri.pass_bad);
      __syncthreads();
      prefill_tile<HD>(smem_f + S::kQ, smem_f + S::kK, smem_f + S::kV, smem_f + S::kP, start,
                       active ? ri.pos[r] : -1, st);
      __syncthreads();  // before the next tile overwrites K, V and p
    }
    row_bad = row_bad || (active && ri.pass_bad != 0);
    if (threadIdx.x == 0) {
      for (int rr = 0; rr < kRows; ++rr) ri.done[rr] = ri.done[rr] || ri.seq[rr] == seq;
    }
  }
  const int t = t0 + r;
  if (ri.seq[r] == -2) return;  // past the last token
  const bool poisoned = ri.seq[r] == -1 || row_bad;
  st.normalize();
  T* out = static_cast<T*>(p.out) + (size_t(t) * p.hq + h) * HD;
#pragma unroll
  for (int k = 0; k < HD / 16; ++k) {
#pragma unroll
    for (int e = 0; e < 4; ++e) out[16 * k + 4 * part + e] = store_f32<T>(poisoned ? NAN : st.o[4 * k + e]);
  }
}

template <typename T, int HD>
void launch(const PrefillParams& p, cudaStream_t stream) {
  constexpr size_t kBytes = PrefillSmem<HD>::kBytes;
  allow_dynamic_smem(prefill_kernel<T, HD>, kBytes);
  const dim3 grid(static_cast<unsigned>(p.hq), static_cast<unsigned>((p.n + kRows - 1) / kRows));
  prefill_kernel<T, HD><<<grid, kThreads, kBytes, stream>>>(p);
  GQA_CUDA_LAUNCH_CHECK("attention prefill_kernel");
}

}  // namespace

void attention_prefill(const AttentionArgs& a, cudaStream_t stream) {
  const AttentionDims d = check_attention_args(a, kOp);
  if (d.n == 0) return;
  GQA_CHECK((d.n + kRows - 1) / kRows <= 65535, kOp << ": " << d.n << " tokens exceed the prefill grid");
  PrefillParams p{};
  p.set_operands(a, d);
  p.n = static_cast<int>(d.n);
  GQA_ATTN_DISPATCH_DTYPE(a.q.dtype(), kOp, T, GQA_ATTN_DISPATCH_HEAD_DIM(d.hd, kOp, HD, launch<T, HD>(p, stream);))
}

}  // namespace gqa::cuda
