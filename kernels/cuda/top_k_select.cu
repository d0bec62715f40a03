// Radix selection of each row's k best logits (see top_k_select.h). One block of 512 threads per
// row:
//   passes 1-4  a 256-bin histogram of one byte of the order key (the float's bits made to sort as
//               unsigned, -0.0 as +0.0) over the elements whose higher bytes equal the prefix found
//               so far; warp 0 finds the byte of the k-th largest. Pass 1 also finds the row's max
//               and whether it holds a NaN (then the row is flagged and nothing else is done).
//               After pass 4 the prefix is the k-th largest key T, and `remaining` counts the
//               elements equal to T to take.
//   collect     in column order (tiles of 1024, blocked: thread t holds columns 2t and 2t + 1 of
//               the tile), every key > T and the first `remaining` keys == T (an exclusive scan
//               ranks the ties) go to shared memory as (~key << 32 | column); the same pass sums
//               the mass in f64.
//   sort        a bitonic sort of those k composite keys (ascending: larger logit first, then the
//               lower column), then each rank's logit is read back from the row (so -0.0 stays
//               -0.0) and written out.
// A row of n <= k elements skips the histograms and takes every element.
#include "kernels/cuda/top_k_select.h"

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include <climits>

#include "core/error.h"
#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/ops.h"

namespace gqa::cuda {
namespace {

constexpr const char* kOp = "cuda top_k_select";
constexpr int kThreads = 512;
constexpr int kItems = 2;  // per thread in the collect pass
constexpr int kTile = kThreads * kItems;
static_assert(kTile == kSelectMaxK && kSelectMaxK / 2 <= kThreads, "one tile holds every candidate");
constexpr int kNoBin = 256;

using ScanInt = cub::BlockScan<int, kThreads>;
using ReduceF = cub::BlockReduce<float, kThreads>;
using ReduceD = cub::BlockReduce<double, kThreads>;

struct MaxOp {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Unsigned key in the floats' order (NaN aside); -0.0 and +0.0 get the same key.
__device__ __forceinline__ uint32_t order_key(float v) {
  uint32_t u = __float_as_uint(v);
  if ((u & 0x7fffffffu) == 0) u = 0;
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__device__ __forceinline__ unsigned long long composite(float v, int col) {
  return (static_cast<unsigned long long>(~order_key(v)) << 32) | static_cast<uint32_t>(col);
}

template <typename T>
__global__ void __launch_bounds__(kThreads) top_k_select_kernel(const T* logits, int n, int k, double inv_t,
                                                                SelectOut out) {
  __shared__ union {
    typename ScanInt::TempStorage scan;
    typename ReduceF::TempStorage reduce_f;
    typename ReduceD::TempStorage reduce_d;
  } tmp;
  __shared__ int hist[256];
  __shared__ unsigned long long cand[kSelectMaxK];
  __shared__ int count;
  __shared__ uint32_t found_prefix;
  __shared__ int found_remaining;
  __shared__ float row_max;
  __shared__ int row_nan;

  const long long row = blockIdx.x;
  const T* x = logits + row * n;
  const int lane = threadIdx.x % 32;
  const bool take_all = n <= k;
  uint32_t prefix = 0, mask = 0;
  int remaining = k;
  float mx = -INFINITY;

  for (int pass = 0; pass < 4; ++pass) {
    const int shift = 24 - 8 * pass;
    for (int b = threadIdx.x; b < 256; b += kThreads) hist[b] = 0;
    __syncthreads();
    int nan = 0;
    for (int base = 0; base < n; base += kThreads) {  // uniform trip count: whole warps in __match_any_sync
      const int i = base + static_cast<int>(threadIdx.x);
      const float v = i < n ? load_f32(x[i]) : -INFINITY;
      if (pass == 0 && i < n) {
        if (isnan(v)) {
          nan = 1;
        } else {
          mx = fmaxf(mx, v);
        }
      }
      if (take_all) continue;
      const uint32_t key = order_key(v);
      const int bin = i < n && (key & mask) == prefix ? static_cast<int>((key >> shift) & 0xffu) : kNoBin;
      const unsigned peers = __match_any_sync(0xffffffffu, bin);  // lanes with the same bin add once
      if (bin != kNoBin && lane == __ffs(peers) - 1) atomicAdd(&hist[bin], __popc(peers));
    }
    if (pass == 0) {
      const int any_nan = __syncthreads_or(nan);
      const float m = ReduceF(tmp.reduce_f).Reduce(mx, MaxOp());  // valid in thread 0
      if (threadIdx.x == 0) {
        row_nan = any_nan;
        row_max = m;
      }
    }
    __syncthreads();  // the histogram is complete (and the row's max and NaN flag are out)
    if (row_nan != 0 || take_all) break;
    if (threadIdx.x < 32) {
      // Lane l sums digits 255 - 8l down to 248 - 8l; a scan over the lanes gives the count of
      // larger digits; the lane whose range holds the k-th largest walks its 8 bins.
      int s = 0;
      for (int j = 0; j < 8; ++j) s += hist[255 - 8 * lane - j];
      int incl = s;
      for (int o = 1; o < 32; o <<= 1) {
        const int t = __shfl_up_sync(0xffffffffu, incl, o);
        if (lane >= o) incl += t;
      }
      int acc = incl - s;
      if (acc < remaining && remaining <= incl) {
        for (int j = 0; j < 8; ++j) {
          const int d = 255 - 8 * lane - j;
          if (acc + hist[d] >= remaining) {
            found_prefix = prefix | (static_cast<uint32_t>(d) << shift);
            found_remaining = remaining - acc;
            break;
          }
          acc += hist[d];
        }
      }
    }
    __syncthreads();
    prefix = found_prefix;
    remaining = found_remaining;
    mask |= 0xffu << shift;
  }
  mx = row_max;
  if (row_nan != 0) {
    if (out.rows != nullptr) {
      float* o = out.rows + row * top_k_row_width(k);
      for (int c = threadIdx.x; c < k; c += kThreads) {
        o[2 * c] = -INFINITY;
        o[2 * c + 1] = -1.0f;
      }
      if (threadIdx.x == 0) {
        o[2 * k] = 1.0f;
        o[2 * k + 1] = 0.0f;
        o[2 * k + 2] = 0.0f;
      }
    } else if (threadIdx.x == 0) {
      out.nan_flags[row] = 1;
    }
    return;
  }

  // Collect, in column order, and sum the mass.
  const uint32_t threshold = prefix;
  const bool with_mass = inv_t > 0.0 && mx != -INFINITY;  // the CPU reference's condition
  if (threadIdx.x == 0) count = 0;
  __syncthreads();
  double part = 0.0;
  int ties_before = 0;  // ties taken in earlier tiles (the same in every thread)
  for (int base = 0; base < n; base += kTile) {
    float v[kItems];
    int ties = 0;
#pragma unroll
    for (int j = 0; j < kItems; ++j) {
      const int i = base + static_cast<int>(threadIdx.x) * kItems + j;
      v[j] = i < n ? load_f32(x[i]) : -INFINITY;
      if (i < n && with_mass) part += exp((static_cast<double>(v[j]) - static_cast<double>(mx)) * inv_t);
      if (i < n && !take_all && order_key(v[j]) == threshold) ++ties;
    }
    int rank = 0, tile_ties = 0;
    ScanInt(tmp.scan).ExclusiveSum(ties, rank, tile_ties);
#pragma unroll
    for (int j = 0; j < kItems; ++j) {
      const int i = base + static_cast<int>(threadIdx.x) * kItems + j;
      if (i >= n) continue;
      const uint32_t key = order_key(v[j]);
      bool take = take_all || key > threshold;
      if (!take_all && key == threshold) take = ties_before + rank++ < remaining;
      if (take) cand[atomicAdd(&count, 1)] = composite(v[j], i);
    }
    ties_before += tile_ties;
    __syncthreads();  // the scan's storage is reused by the next tile
  }
  const double mass = ReduceD(tmp.reduce_d).Sum(part);  // valid in thread 0
  const int taken = count;                              // (read after the loop's last barrier)

  // Bitonic sort of the taken keys, padded to a power of two with keys past every real one.
  int size = 2;
  while (size < taken) size *= 2;
  for (int s = taken + static_cast<int>(threadIdx.x); s < size; s += kThreads) cand[s] = ~0ull;
  __syncthreads();
  for (int span = 2; span <= size; span *= 2) {
    for (int stride = span / 2; stride > 0; stride /= 2) {
      for (int t = threadIdx.x; t < size / 2; t += kThreads) {
        const int lo = 2 * t - (t & (stride - 1)), hi = lo + stride;
        const bool ascending = (lo & span) == 0;
        const unsigned long long a = cand[lo], b = cand[hi];
        if ((a > b) == ascending) {
          cand[lo] = b;
          cand[hi] = a;
        }
      }
      __syncthreads();
    }
  }

  for (int r = threadIdx.x; r < k; r += kThreads) {
    const bool have = r < taken;
    const int col = have ? static_cast<int>(cand[r] & 0xffffffffull) : -1;
    const float val = have ? load_f32(x[col]) : -INFINITY;
    if (out.rows != nullptr) {
      float* o = out.rows + row * top_k_row_width(k);
      o[2 * r] = val;
      o[2 * r + 1] = static_cast<float>(col);
    } else {
      out.keys[row * k + r] = val;
      out.ids[row * k + r] = col;
    }
  }
  if (threadIdx.x == 0) {
    if (out.rows != nullptr) {
      float* o = out.rows + row * top_k_row_width(k);
      o[2 * k] = 0.0f;
      o[2 * k + 1] = static_cast<float>(mass);
      o[2 * k + 2] = static_cast<float>(mass - static_cast<double>(static_cast<float>(mass)));
    } else {
      out.nan_flags[row] = 0;
      if (out.mass != nullptr) out.mass[row] = mass;
    }
  }
}

template <typename T>
void launch(const Tensor& logits, int k, double inv_t, const SelectOut& out, cudaStream_t stream) {
  const int m = static_cast<int>(logits.dim(0)), n = static_cast<int>(logits.dim(1));
  top_k_select_kernel<T><<<m, kThreads, 0, stream>>>(logits.data_as<T>(), n, k, inv_t, out);
  GQA_CUDA_LAUNCH_CHECK("top_k_select_kernel");
}

}  // namespace

void top_k_select(const Tensor& logits, int k, double inv_t, const SelectOut& out, cudaStream_t stream) {
  detail::expect_ndim(logits, 2, kOp, "logits");
  detail::expect_float(logits, kOp, "logits");
  GQA_CHECK(logits.dim(1) > 0 && logits.numel() <= INT_MAX && logits.dim(1) <= INT_MAX - kTile,
            kOp << ": logits " << shape_str(logits.shape()) << " must have columns and fewer than 2^31 elements");
  GQA_CHECK(k >= 1 && k <= kSelectMaxK, kOp << ": k must be in [1, " << kSelectMaxK << "], got " << k);
  GQA_CHECK(inv_t >= 0.0, kOp << ": negative 1 / temperature " << inv_t);
  const bool rows = out.rows != nullptr;
  GQA_CHECK(rows != (out.keys != nullptr && out.ids != nullptr && out.nan_flags != nullptr) &&
                (rows || (inv_t > 0.0) == (out.mass != nullptr)),
            kOp << ": write either rows (with or without the mass) or keys, ids and NaN flags (and the mass "
                   "exactly when 1 / temperature > 0)");
  if (logits.dim(0) == 0) return;
  GQA_CHECK(logits.dim(0) <= INT_MAX, kOp << ": " << logits.dim(0) << " rows exceed the grid");
  GQA_CUDA_DISPATCH_FLOAT(logits.dtype(), kOp, launch, logits, k, inv_t, out, stream);
}

}  // namespace gqa::cuda
