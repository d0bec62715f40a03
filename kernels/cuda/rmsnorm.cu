// One thread block per row; each thread keeps its elements of the row in registers between
// the sum-of-squares pass and the scale pass, so the row is read from HBM once. Every load a
// thread makes (x, residual, weight) is issued before its first store: out may alias x or
// residual, so the compiler could not move a load past a store, and a loop that interleaved them
// paid one memory round trip per element. Rows whose width and pointers allow it move 16 bytes
// per access (8 bf16/f16, 4 f32); other rows go element by element, with the same arithmetic.
#include <cstdint>

#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/rmsnorm.h"

namespace gqa::cuda {
namespace {

constexpr int kMaxThreads = 1024;
constexpr int kTargetAccesses = 2;  // what a launch aims for: more threads, shorter per-thread chains

// Accesses a thread keeps in registers (the row limit is kMaxThreads * kMaxAccesses * kN):
// 8 elements for the element-wise path, 2 vectors of 16 bytes otherwise, so that a 1024-thread
// block fits the 64 registers a thread then has.
template <int kN>
constexpr int kMaxAccesses = kN == 1 ? 8 : 2;

__device__ float block_sum(float v) {
  __shared__ float warp_sums[kMaxThreads / 32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  v = lane < static_cast<int>(blockDim.x / 32) ? warp_sums[lane] : 0.0f;  // blockDim.x: a multiple of 32
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;  // every thread holds the total
}

// Thread j handles accesses j, j + blockDim.x, ... (kN elements each) of its row. out and x_out
// may alias x or residual: every element is read and then written by one thread, all of its loads
// first.
// The row stays in registers as T (x, and x + residual once rounded to T, are exact in T).
template <typename T, int kN, bool kResidual, bool kEarly>
__global__ void __launch_bounds__(kMaxThreads)
    rmsnorm_kernel(const T* x, const T* residual, const T* __restrict__ weight, T* x_out, T* out, int d, float eps) {
  using P = Pack<T, kN>;
  constexpr int kAcc = kMaxAccesses<kN>;
  pdl_wait_early<kEarly>();  // (the early trigger where pdl_early_enabled(): pdl.h)
  const size_t row = static_cast<size_t>(blockIdx.x) * d;
  const int accesses = d / kN;
  const P* xr = reinterpret_cast<const P*>(x + row);
  P* xo = kResidual ? reinterpret_cast<P*>(x_out + row) : nullptr;
  const P* rr = kResidual ? reinterpret_cast<const P*>(residual + row) : nullptr;
  const P* wr = reinterpret_cast<const P*>(weight);
  P* outr = reinterpret_cast<P*>(out + row);
  P xv[kAcc], rv[kAcc], wv[kAcc];
#pragma unroll
  for (int k = 0; k < kAcc; ++k) {
    const int j = threadIdx.x + k * blockDim.x;
    if (j < accesses) {
      xv[k] = xr[j];
      if constexpr (kResidual) rv[k] = rr[j];
      wv[k] = wr[j];
    }
  }
  float sq = 0.0f;
#pragma unroll
  for (int k = 0; k < kAcc; ++k) {
    const int j = threadIdx.x + k * blockDim.x;
    if (j < accesses) {
      if constexpr (kResidual) {
        xv[k] = add_rounded(xv[k], rv[k]);
        xo[j] = xv[k];  // normalise below what the residual stream actually holds
      }
      sq += sum_squares(xv[k]);
    }
  }
  const float inv_rms = rsqrtf(block_sum(sq) / d + eps);
#pragma unroll
  for (int k = 0; k < kAcc; ++k) {
    const int j = threadIdx.x + k * blockDim.x;
    if (j < accesses) {
      outr[j] = rms_scaled(xv[k], inv_rms, wv[k]);
    }
  }
}

// 16-byte accesses when the row width and every pointer allow them.
template <typename T>
constexpr int kVec = 16 / static_cast<int>(sizeof(T));

template <typename T>
bool vectorizable(const RmsNormResidualArgs& a, int d) {
  const auto aligned = [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_as<T>()) % 16 == 0; };
  return d % kVec<T> == 0 && aligned(a.x) && aligned(a.weight) && aligned(a.out) &&
         (!a.residual.defined() || aligned(a.residual)) && (!a.x_out.defined() || aligned(a.x_out));
}

// Accesses of kN elements per row: warps enough for about kTargetAccesses each, at most
// kMaxThreads (launch() has checked that kMaxAccesses each then cover the row).
inline int threads_for(int accesses) {
  const int want = (accesses + kTargetAccesses - 1) / kTargetAccesses;
  const int threads = (want + 31) / 32 * 32;
  return threads < 32 ? 32 : (threads > kMaxThreads ? kMaxThreads : threads);
}

template <typename T, int kN>
void launch_with(const RmsNormResidualArgs& a, int n, int d, cudaStream_t stream) {
  const int threads = threads_for(d / kN);
  const T* x = a.x.data_as<const T>();
  const T* weight = a.weight.data_as<const T>();
  T* out = a.out.data_as<T>();
  const bool early = pdl_early_enabled();
  if (a.residual.defined()) {
    T* x_out = (a.x_out.defined() ? a.x_out : a.x).data_as<T>();
    launch_pdl("rmsnorm_kernel (residual)", early ? rmsnorm_kernel<T, kN, true, true> : rmsnorm_kernel<T, kN, true, false>,
               n, threads, 0, stream, x, a.residual.data_as<const T>(), weight, x_out, out, d, a.eps);
  } else {
    launch_pdl("rmsnorm_kernel", early ? rmsnorm_kernel<T, kN, false, true> : rmsnorm_kernel<T, kN, false, false>, n,
               threads, 0, stream, x, static_cast<const T*>(nullptr), weight, static_cast<T*>(nullptr), out, d, a.eps);
  }
}

template <typename T>
void launch(const RmsNormResidualArgs& a, cudaStream_t stream) {
  const int n = static_cast<int>(a.x.dim(0)), d = static_cast<int>(a.x.dim(1));
  const bool vec = vectorizable<T>(a, d);
  const long long max_d = static_cast<long long>(kMaxThreads) * (vec ? kMaxAccesses<kVec<T>> * kVec<T> : kMaxAccesses<1>);
  GQA_CHECK(d <= max_d, "cuda rmsnorm: rows of " << d << " exceed " << max_d
                                                 << (vec ? "" : " (rows of a width or address unfit for 16-byte access)"));
  if (n == 0) return;
  if (vec) {
    launch_with<T, kVec<T>>(a, n, d, stream);
  } else {
    launch_with<T, 1>(a, n, d, stream);
  }
}

}  // namespace

void rmsnorm(const RmsNormResidualArgs& a, cudaStream_t stream) {
  GQA_CHECK(a.x.ndim() == 2 && a.out.shape() == a.x.shape() && a.weight.ndim() == 1 && a.weight.dim(0) == a.x.dim(1),
            "cuda rmsnorm: x " << shape_str(a.x.shape()) << ", weight " << shape_str(a.weight.shape()) << ", out "
                               << shape_str(a.out.shape()) << " do not fit");
  GQA_CHECK(!a.residual.defined() || (a.residual.shape() == a.x.shape() && a.residual.dtype() == a.x.dtype() &&
                                       a.residual.device() == Device::kCuda),
            "cuda rmsnorm: residual " << shape_str(a.residual.shape()) << " differs from x " << shape_str(a.x.shape())
                                      << " in shape, dtype or device");
  GQA_CHECK(!a.x_out.defined() ||
                (a.residual.defined() && a.x_out.shape() == a.x.shape() && a.x_out.dtype() == a.x.dtype() &&
                 a.x_out.device() == Device::kCuda && !overlaps(a.x_out, a.x) && !overlaps(a.x_out, a.residual) &&
                 !overlaps(a.x_out, a.weight) && !overlaps(a.x_out, a.out)),
            "cuda rmsnorm: x_out " << shape_str(a.x_out.shape())
                                   << " must come with a residual, match x " << shape_str(a.x.shape())
                                   << " in shape, dtype and device, and overlap none of x, residual, weight and out");
  detail::expect_device(a.x, "cuda rmsnorm", "x");  // (CudaOps' wrappers check this too; here for direct calls)
  detail::expect_device(a.weight, "cuda rmsnorm", "weight");
  detail::expect_device(a.out, "cuda rmsnorm", "out");
  GQA_CHECK(a.x.dim(1) > 0, "cuda rmsnorm: empty hidden dimension in x " << shape_str(a.x.shape()));
  GQA_CHECK(a.x.dim(1) <= 0x7fffffffLL, "cuda rmsnorm: rows of " << a.x.dim(1) << " are too wide");
  GQA_CHECK(a.x.dim(0) <= 0x7fffffffLL, "cuda rmsnorm: " << a.x.dim(0) << " rows are too many");
  GQA_CHECK(a.x.dtype() == a.weight.dtype() && a.x.dtype() == a.out.dtype(), "cuda rmsnorm: mixed dtypes");
  GQA_CUDA_DISPATCH_FLOAT(a.x.dtype(), "cuda rmsnorm", launch, a, stream);
}

}  // namespace gqa::cuda
