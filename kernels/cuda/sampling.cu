// Greedy: one block per row, each thread keeps its best (value, id), then a warp-shuffle and a
// shared-memory reduction with the tie rule (larger value, else lower id).
// Sampled: (1) copy the logits to f32 keys with ids and a NaN flag per row, (2) a stable
// segmented radix sort (descending) per row, so equal logits keep ascending ids, (3) one block per
// row: softmax mass of the top-k by a block reduction, then the top-p cut and the draw each as a
// block-wide prefix scan that stops at the first crossing.
// Top-k sampling (0 < top_k <= kSelectMaxK, below the vocabulary) selects the k best instead of
// sorting (top_k_select.cu), then (3) runs on them. sample_from_candidates does the same for
// temperature / top-p over the whole vocabulary with the best `candidates` and the row's mass,
// deferring to the sort the rows whose nucleus or draw reaches past them.
// Top-k candidates (Ops::top_k_rows): greedy (k = 1, no mass) is the argmax reduction writing
// (value, id, NaN flag); k <= kSelectMaxK the selection (top_k_select.cu) writing the rows with the
// mass; a larger k sorts the rows as the sampler sorts them, then one block per row copies its
// first k and sums its mass.
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_segmented_radix_sort.cuh>

#include <climits>
#include <cmath>

#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/sampling.h"
#include "kernels/cuda/top_k_select.h"

namespace gqa::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ bool better(float v, int i, float best, int best_i) {
  return v > best || (v == best && i < best_i);
}

// out[row]: the argmax (-1 for a NaN row); or, when cand is set instead, cand[5 * row ...] gets
// top_k's row for k = 1 at temperature 0: (value, column, NaN flag, 0, 0), a NaN row (-inf, -1, 1,
// 0, 0).
template <typename T>
__global__ void argmax_kernel(const T* logits, int vocab, int32_t* out, float* cand) {
  const T* row = logits + static_cast<long long>(blockIdx.x) * vocab;
  float best = -INFINITY;
  int best_i = INT_MAX;
  int nan = 0;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
    const float v = load_f32(row[i]);
    if (isnan(v)) {
      nan = 1;
    } else if (better(v, i, best, best_i)) {
      best = v;
      best_i = i;
    }
  }
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, best, o);
    const int oi = __shfl_xor_sync(0xffffffffu, best_i, o);
    if (better(ov, oi, best, best_i)) {
      best = ov;
      best_i = oi;
    }
  }
  nan = __any_sync(0xffffffffu, nan);
  __shared__ float warp_best[kThreads / 32];
  __shared__ int warp_best_i[kThreads / 32];
  __shared__ int warp_nan[kThreads / 32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    warp_best[warp] = best;
    warp_best_i[warp] = best_i;
    warp_nan[warp] = nan;
  }
  __syncthreads();
  if (threadIdx.x != 0) return;
  for (int w = 1; w < kThreads / 32; ++w) {
    nan |= warp_nan[w];
    if (better(warp_best[w], warp_best_i[w], best, best_i)) {
      best = warp_best[w];
      best_i = warp_best_i[w];
    }
  }
  const int id = nan ? -1 : (best_i == INT_MAX ? 0 : best_i);  // (INT_MAX only for an all-NaN row)
  if (cand == nullptr) {
    out[blockIdx.x] = id;
    return;
  }
  float* c = cand + static_cast<long long>(top_k_row_width(1)) * blockIdx.x;
  c[0] = nan ? -INFINITY : best;
  c[1] = static_cast<float>(id);
  c[2] = nan ? 1.0f : 0.0f;
  c[3] = 0.0f;
  c[4] = 0.0f;
}

// keys/ids: [m, vocab] f32 copy of the logits and the column index; nan_flags[row] = 1 for a
// row holding a NaN (zeroed before); offsets: [m + 1] segment starts, row * vocab.
template <typename T>
__global__ void prepare_kernel(const T* logits, float* keys, int32_t* ids, int32_t* nan_flags, int32_t* offsets,
                               int m, int vocab) {
  const long long count = static_cast<long long>(m) * vocab;
  const long long end = count > m ? count : m + 1;  // offsets has m + 1 entries (more than count if vocab is 1)
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < end; i += stride) {
    if (i < count) {
      const float v = load_f32(logits[i]);
      keys[i] = v;
      ids[i] = static_cast<int32_t>(i % vocab);
      if (isnan(v)) nan_flags[i / vocab] = 1;
    }
    if (i <= m) offsets[i] = static_cast<int32_t>(i * vocab);
  }
}

using BlockScan = cub::BlockScan<double, kThreads>;
using BlockReduce = cub::BlockReduce<double, kThreads>;

struct Crossing {
  int index;   // first i with the crossing, -1 when the sum never crosses
  double cum;  // sum of p_0..p_index (the whole sum when index is -1)
};

// Over p_i = exp((keys[i] - max_key) * inv_t), i < count: the first i whose running sum reaches
// the threshold (>= when inclusive, else >). Tiles of kThreads elements, one block-wide scan each.
__device__ Crossing first_crossing(const float* keys, int count, double max_key, double inv_t, double threshold,
                                   bool inclusive, BlockScan::TempStorage& scan) {
  __shared__ int found;
  __shared__ double found_cum;
  double running = 0.0;
  for (int base = 0; base < count; base += kThreads) {
    const int i = base + static_cast<int>(threadIdx.x);
    const double p = i < count ? exp((static_cast<double>(keys[i]) - max_key) * inv_t) : 0.0;
    double incl = 0.0, tile_sum = 0.0;
    BlockScan(scan).InclusiveSum(p, incl, tile_sum);
    if (threadIdx.x == 0) found = INT_MAX;
    __syncthreads();
    const double cum = running + incl;
    if (i < count && (inclusive ? cum >= threshold : cum > threshold)) atomicMin(&found, i);
    __syncthreads();
    const int hit = found;
    if (hit != INT_MAX) {
      if (i == hit) found_cum = cum;
      __syncthreads();
      const Crossing c{hit, found_cum};
      __syncthreads();  // everyone has read the shared result before it is reused
      return c;
    }
    running += tile_sum;  // tile_sum is the same in every thread
    __syncthreads();      // scan storage and `found` are reused by the next tile
  }
  return {-1, running};
}

// The drawn candidate's index among a row's candidates rk (descending logits, the row's best
// `known`) given the row's mass `total`: cut to the smallest prefix whose mass reaches
// top_p * total (top_p < 1), then the first candidate whose running mass exceeds u * kept.
// `complete`: the candidates hold every id the rule may pick, so a crossing not reached within
// them rounds to the last one kept; otherwise -1 (the row's nucleus or draw reaches past them).
// The same in every thread.
__device__ int draw_index(const float* rk, int known, bool complete, double total, double inv_t, double top_p,
                          float u, BlockScan::TempStorage& scan) {
  const double max_key = rk[0];
  int keep = known;
  double kept = total;
  bool cut = false;
  if (top_p < 1.0) {
    const Crossing c = first_crossing(rk, known, max_key, inv_t, top_p * total, true, scan);
    if (c.index >= 0) {
      cut = true;
      keep = c.index + 1;
      kept = c.cum;
    } else if (!complete) {
      return -1;
    }
  }
  const Crossing d = first_crossing(rk, keep, max_key, inv_t, static_cast<double>(u) * kept, false, scan);
  if (d.index >= 0) return d.index;
  return cut || complete ? keep - 1 : -1;
}

// One block per row of the sorted keys/ids (`stride` apart): the draw from its first k, the
// softmax mass summed over them.
__global__ void select_kernel(const float* keys, const int32_t* ids, const float* uniforms, const int32_t* nan_flags,
                              int stride, int k, double inv_t, double top_p, int32_t* out) {
  __shared__ union {
    BlockScan::TempStorage scan;
    BlockReduce::TempStorage reduce;
  } tmp;
  __shared__ double total_shared;
  const int row = blockIdx.x;
  if (nan_flags[row] != 0) {
    if (threadIdx.x == 0) out[row] = -1;
    return;
  }
  const float* rk = keys + static_cast<long long>(row) * stride;
  const double max_key = rk[0];
  double part = 0.0;
  for (int i = threadIdx.x; i < k; i += blockDim.x) part += exp((static_cast<double>(rk[i]) - max_key) * inv_t);
  const double total_t0 = BlockReduce(tmp.reduce).Sum(part);  // valid in thread 0
  if (threadIdx.x == 0) total_shared = total_t0;
  __syncthreads();
  const int i = draw_index(rk, k, true, total_shared, inv_t, top_p, uniforms[row], tmp.scan);
  if (threadIdx.x == 0) out[row] = ids[static_cast<long long>(row) * stride + i];
}

// sample_from_candidates' draw, one block per row: its `c` best logits (keys/ids, descending) of
// the row's n and its mass (f64). As select_kernel with k = n, while the nucleus (top_p < 1) and
// then the draw fall within the candidates; kUndecided where they do not.
__global__ void decide_kernel(const float* keys, const int32_t* ids, const int32_t* nan_flags, const double* mass,
                              const float* uniforms, int n, int c, double inv_t, double top_p, int32_t* out) {
  __shared__ BlockScan::TempStorage scan;
  const int row = blockIdx.x;
  if (nan_flags[row] != 0) {
    if (threadIdx.x == 0) out[row] = -1;
    return;
  }
  const long long base = static_cast<long long>(row) * c;
  const int i = draw_index(keys + base, n < c ? n : c, n <= c, mass[row], inv_t, top_p, uniforms[row], scan);
  if (threadIdx.x == 0) out[row] = i >= 0 ? ids[base + i] : kUndecided;
}

// top_k's rows from the sorted keys/ids: the first k of each row (padding past n), none for a NaN
// row; with inv_t > 0 the row's mass, sum_j exp((key_j - key_0) * inv_t) in f64 (as the CPU
// reference computes it, in another order), split into two floats. One block per row.
__global__ void top_k_gather_kernel(const float* keys, const int32_t* ids, const int32_t* nan_flags, int n, int k,
                                    double inv_t, float* out) {
  __shared__ BlockReduce::TempStorage reduce;
  const long long row = blockIdx.x;
  float* o = out + row * top_k_row_width(k);
  const float* rk = keys + row * n;
  const bool nan = nan_flags[row] != 0;
  for (int c = threadIdx.x; c < k; c += blockDim.x) {
    const bool have = !nan && c < n;
    o[2 * c] = have ? rk[c] : -INFINITY;
    o[2 * c + 1] = have ? static_cast<float>(ids[row * n + c]) : -1.0f;
  }
  double mass = 0.0;
  if (inv_t > 0.0 && !nan && rk[0] != -INFINITY) {  // (the same branch in every thread)
    const double max_key = rk[0];
    double part = 0.0;
    for (int j = threadIdx.x; j < n; j += blockDim.x) part += exp((static_cast<double>(rk[j]) - max_key) * inv_t);
    mass = BlockReduce(reduce).Sum(part);  // valid in thread 0
  }
  if (threadIdx.x == 0) {
    o[2 * k] = nan ? 1.0f : 0.0f;
    o[2 * k + 1] = static_cast<float>(mass);
    o[2 * k + 2] = static_cast<float>(mass - static_cast<double>(static_cast<float>(mass)));
  }
}

template <typename T>
void launch_argmax(const ArgmaxArgs& a, cudaStream_t stream) {
  const int m = static_cast<int>(a.logits.dim(0)), vocab = static_cast<int>(a.logits.dim(1));
  if (m == 0) return;
  argmax_kernel<T><<<m, kThreads, 0, stream>>>(a.logits.data_as<T>(), vocab, a.out.data_as<int32_t>(), nullptr);
  GQA_CUDA_LAUNCH_CHECK("argmax_kernel");
}

void check_logits(const Tensor& logits, const char* op) {
  detail::expect_ndim(logits, 2, op, "logits");
  detail::expect_float(logits, op, "logits");
  GQA_CHECK(logits.dim(1) > 0, op << ": empty vocabulary in logits " << shape_str(logits.shape()));
  GQA_CHECK(logits.numel() <= INT_MAX, op << ": logits " << shape_str(logits.shape()) << " exceed 2^31 elements");
}

void check_logits(const Tensor& logits, const Tensor& out, const char* op) {
  check_logits(logits, op);
  detail::expect(out, DType::kI32, {logits.dim(0)}, op, "out");
}

}  // namespace

void argmax(const ArgmaxArgs& a, cudaStream_t stream) {
  check_logits(a.logits, a.out, "cuda argmax");
  GQA_CUDA_DISPATCH_FLOAT(a.logits.dtype(), "cuda argmax", launch_argmax, a, stream);
}

namespace {

// Stream-ordered scratch: cudaMallocAsync now, cudaFreeAsync at the end of the scope. The free
// is queued after the kernels that use the memory, so leaving the scope before they run is safe.
class StreamScratch {
 public:
  StreamScratch(size_t bytes, cudaStream_t stream) : stream_(stream) {
    GQA_CUDA_CHECK(cudaMallocAsync(&p_, bytes == 0 ? 1 : bytes, stream));
  }
  ~StreamScratch() {
    // (teardown: statuses ignored, a destructor must not throw)
    if (p_ != nullptr) cudaFreeAsync(p_, stream_);
  }
  StreamScratch(const StreamScratch&) = delete;
  StreamScratch& operator=(const StreamScratch&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(p_); }

 private:
  void* p_ = nullptr;
  cudaStream_t stream_;
};

template <typename T>
void launch_prepare(const Tensor& logits, float* keys, int32_t* ids, int32_t* nan_flags, int32_t* offsets,
                    cudaStream_t stream) {
  const int m = static_cast<int>(logits.dim(0)), vocab = static_cast<int>(logits.dim(1));
  const long long count = static_cast<long long>(m) * vocab + m + 1;  // covers the m + 1 offsets too
  prepare_kernel<T><<<grid_for(count, kThreads), kThreads, 0, stream>>>(logits.data_as<T>(), keys, ids, nan_flags,
                                                                        offsets, m, vocab);
  GQA_CUDA_LAUNCH_CHECK("prepare_kernel");
}

// The rows of logits [m, n] (m >= 1) as f32 keys sorted descending with their columns, and each
// row's NaN flag, in stream-ordered scratch. The radix sort is stable: equal logits keep ascending
// columns, the CPU sampler's tie order (and it takes -0.0 and +0.0 as equal, as that order does).
struct SortedRows {
  SortedRows(const Tensor& logits, cudaStream_t stream, const char* op)
      : m(static_cast<int>(logits.dim(0))),
        n(static_cast<int>(logits.dim(1))),
        keys_in(bytes(), stream),
        keys_out(bytes(), stream),
        ids_in(bytes(), stream),
        ids_out(bytes(), stream),
        nan_flags(static_cast<size_t>(m) * 4, stream),
        offsets(static_cast<size_t>(m + 1) * 4, stream) {
    GQA_CUDA_CHECK(cudaMemsetAsync(nan_flags.as<void>(), 0, static_cast<size_t>(m) * 4, stream));
    GQA_CUDA_DISPATCH_FLOAT(logits.dtype(), op, launch_prepare, logits, keys_in.as<float>(), ids_in.as<int32_t>(),
                            nan_flags.as<int32_t>(), offsets.as<int32_t>(), stream);
    size_t temp_bytes = 0;
    GQA_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairsDescending(
        nullptr, temp_bytes, keys_in.as<float>(), keys_out.as<float>(), ids_in.as<int32_t>(), ids_out.as<int32_t>(),
        m * n, m, offsets.as<int32_t>(), offsets.as<int32_t>() + 1, 0, 32, stream));
    StreamScratch temp(temp_bytes, stream);
    GQA_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairsDescending(
        temp.as<void>(), temp_bytes, keys_in.as<float>(), keys_out.as<float>(), ids_in.as<int32_t>(),
        ids_out.as<int32_t>(), m * n, m, offsets.as<int32_t>(), offsets.as<int32_t>() + 1, 0, 32, stream));
  }
  size_t bytes() const { return static_cast<size_t>(m) * n * 4; }  // m * n <= INT_MAX: check_logits

  const int m, n;
  StreamScratch keys_in, keys_out, ids_in, ids_out, nan_flags, offsets;
};

}  // namespace

void sample(const SampleArgs& a, cudaStream_t stream) {
  constexpr const char* kOp = "cuda sample";
  check_logits(a.logits, a.out, kOp);
  GQA_CHECK(std::isfinite(a.temperature) && a.temperature >= 0, kOp << ": temperature must be >= 0, got "
                                                                    << a.temperature);
  GQA_CHECK(a.top_k >= 0, kOp << ": top_k must be >= 0, got " << a.top_k);
  GQA_CHECK(a.top_p > 0 && a.top_p <= 1, kOp << ": top_p must be in (0, 1], got " << a.top_p);
  if (a.temperature == 0.0f) return argmax({a.logits, a.out}, stream);
  detail::expect(a.uniforms, DType::kF32, {a.logits.dim(0)}, kOp, "uniforms");
  const int m = static_cast<int>(a.logits.dim(0)), vocab = static_cast<int>(a.logits.dim(1));
  if (m == 0) return;
  const int k = a.top_k > 0 && a.top_k < vocab ? static_cast<int>(a.top_k) : vocab;
  if (k <= kSelectMaxK && k < vocab && top_k_select_enabled()) {
    // top-k: the k best of each row by selection (top_k_select), then the same softmax, top-p cut
    // and draw over them as over the first k of a sorted row: the same token.
    const StreamScratch keys(static_cast<size_t>(m) * k * 4, stream), ids(static_cast<size_t>(m) * k * 4, stream),
        nan_flags(static_cast<size_t>(m) * 4, stream);
    SelectOut sel;
    sel.keys = keys.as<float>();
    sel.ids = ids.as<int32_t>();
    sel.nan_flags = nan_flags.as<int32_t>();
    top_k_select(a.logits, k, 0.0, sel, stream);
    select_kernel<<<m, kThreads, 0, stream>>>(keys.as<float>(), ids.as<int32_t>(), a.uniforms.data_as<float>(),
                                              nan_flags.as<int32_t>(), k, k, 1.0 / static_cast<double>(a.temperature),
                                              static_cast<double>(a.top_p), a.out.data_as<int32_t>());
    GQA_CUDA_LAUNCH_CHECK("select_kernel (after top_k_select)");
    return;
  }
  const SortedRows sorted(a.logits, stream, kOp);
  select_kernel<<<m, kThreads, 0, stream>>>(sorted.keys_out.as<float>(), sorted.ids_out.as<int32_t>(),
                                            a.uniforms.data_as<float>(), sorted.nan_flags.as<int32_t>(), vocab, k,
                                            1.0 / static_cast<double>(a.temperature), static_cast<double>(a.top_p),
                                            a.out.data_as<int32_t>());
  GQA_CUDA_LAUNCH_CHECK("select_kernel");
}

void sample_from_candidates(const SampleArgs& a, int candidates, cudaStream_t stream) {
  constexpr const char* kOp = "cuda sample_from_candidates";
  check_logits(a.logits, a.out, kOp);
  GQA_CHECK(std::isfinite(a.temperature) && a.temperature > 0 && a.top_k == 0,
            kOp << ": needs a temperature > 0 and top_k 0, got " << a.temperature << " and " << a.top_k);
  GQA_CHECK(a.top_p > 0 && a.top_p <= 1, kOp << ": top_p must be in (0, 1], got " << a.top_p);
  GQA_CHECK(candidates >= 1 && candidates <= kSelectMaxK,
            kOp << ": candidates must be in [1, " << kSelectMaxK << "], got " << candidates);
  detail::expect(a.uniforms, DType::kF32, {a.logits.dim(0)}, kOp, "uniforms");
  const int m = static_cast<int>(a.logits.dim(0)), n = static_cast<int>(a.logits.dim(1));
  if (m == 0) return;
  const size_t per_row = static_cast<size_t>(m) * candidates;
  const StreamScratch keys(per_row * 4, stream), ids(per_row * 4, stream), nan_flags(static_cast<size_t>(m) * 4, stream),
      mass(static_cast<size_t>(m) * 8, stream);
  const double inv_t = 1.0 / static_cast<double>(a.temperature);
  SelectOut sel;
  sel.keys = keys.as<float>();
  sel.ids = ids.as<int32_t>();
  sel.nan_flags = nan_flags.as<int32_t>();
  sel.mass = mass.as<double>();
  top_k_select(a.logits, candidates, inv_t, sel, stream);
  decide_kernel<<<m, kThreads, 0, stream>>>(keys.as<float>(), ids.as<int32_t>(), nan_flags.as<int32_t>(),
                                            mass.as<double>(), a.uniforms.data_as<float>(), n, candidates, inv_t,
                                            static_cast<double>(a.top_p), a.out.data_as<int32_t>());
  GQA_CUDA_LAUNCH_CHECK("decide_kernel");
}

namespace {

template <typename T>
void launch_argmax_candidates(const TopKArgs& a, cudaStream_t stream) {
  const int m = static_cast<int>(a.logits.dim(0)), n = static_cast<int>(a.logits.dim(1));
  argmax_kernel<T><<<m, kThreads, 0, stream>>>(a.logits.data_as<T>(), n, nullptr, a.out.data_as<float>());
  GQA_CUDA_LAUNCH_CHECK("argmax_kernel (top_k 1)");
}

}  // namespace

void top_k(const TopKArgs& a, cudaStream_t stream) {
  constexpr const char* kOp = "cuda top_k";
  check_logits(a.logits, kOp);
  GQA_CHECK(a.k >= 1 && a.k <= (INT_MAX - 3) / 2, kOp << ": k must be in [1, 2^30), got " << a.k);
  GQA_CHECK(std::isfinite(a.temperature) && a.temperature >= 0, kOp << ": temperature must be >= 0, got "
                                                                    << a.temperature);
  const int64_t m = a.logits.dim(0);
  detail::expect(a.out, DType::kF32, {m, top_k_row_width(a.k)}, kOp, "out");
  if (m == 0) return;
  if (a.k == 1 && a.temperature == 0.0f) {
    GQA_CUDA_DISPATCH_FLOAT(a.logits.dtype(), kOp, launch_argmax_candidates, a, stream);
    return;
  }
  const double inv_t = a.temperature > 0 ? 1.0 / static_cast<double>(a.temperature) : 0.0;
  if (a.k <= kSelectMaxK && top_k_select_enabled()) {  // the k best by selection, the row never sorted
    SelectOut sel;
    sel.rows = a.out.data_as<float>();
    top_k_select(a.logits, static_cast<int>(a.k), inv_t, sel, stream);
    return;
  }
  const SortedRows sorted(a.logits, stream, kOp);
  top_k_gather_kernel<<<static_cast<unsigned>(m), kThreads, 0, stream>>>(
      sorted.keys_out.as<float>(), sorted.ids_out.as<int32_t>(), sorted.nan_flags.as<int32_t>(), sorted.n,
      static_cast<int>(a.k), inv_t, a.out.data_as<float>());
  GQA_CUDA_LAUNCH_CHECK("top_k_gather_kernel");
}

GQA_PROCESS_SWITCH(gpu_top_k_enabled, set_gpu_top_k, "GQA_GPU_TOP_K", true)
GQA_PROCESS_SWITCH(top_k_select_enabled, set_top_k_select, "GQA_TOP_K_SELECT", true)

}  // namespace gqa::cuda
