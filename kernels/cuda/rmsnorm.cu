// One thread block per row; each thread keeps its elements of the row in registers between
// the sum-of-squares pass and the scale pass, so the row is read from HBM once.
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/rmsnorm.h"

namespace gqa::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxPerThread = 32;  // rows up to 8192 elements stay in registers

__device__ float block_sum(float v) {
  __shared__ float warp_sums[kThreads / 32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  v = lane < kThreads / 32 ? warp_sums[lane] : 0.0f;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;  // every thread holds the total
}

template <typename T>
__global__ void rmsnorm_kernel(T* x, const T* residual, const T* weight, T* out, int d, float eps) {
  pdl_wait();
  const size_t row = static_cast<size_t>(blockIdx.x) * d;
  float vals[kMaxPerThread];
  float sq = 0.0f;
#pragma unroll
  for (int k = 0; k < kMaxPerThread; ++k) {
    const int i = threadIdx.x + k * kThreads;
    if (i < d) {
      float v = load_f32(x[row + i]);
      if (residual != nullptr) {
        v += load_f32(residual[row + i]);
        x[row + i] = store_f32<T>(v);
        v = load_f32(x[row + i]);  // normalise what the residual stream actually holds
      }
      vals[k] = v;
      sq += v * v;
    }
  }
  const float inv_rms = rsqrtf(block_sum(sq) / d + eps);
#pragma unroll
  for (int k = 0; k < kMaxPerThread; ++k) {
    const int i = threadIdx.x + k * kThreads;
    if (i < d) out[row + i] = store_f32<T>(vals[k] * inv_rms * load_f32(weight[i]));
  }
}

template <typename T>
void launch(const RmsNormResidualArgs& a, cudaStream_t stream) {
  const int n = static_cast<int>(a.x.dim(0)), d = static_cast<int>(a.x.dim(1));
  if (n == 0) return;
  launch_pdl("rmsnorm_kernel", rmsnorm_kernel<T>, n, kThreads, 0, stream, a.x.data_as<T>(),
             a.residual.defined() ? a.residual.data_as<T>() : nullptr, a.weight.data_as<T>(), a.out.data_as<T>(),
             d, a.eps);
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
  GQA_CHECK(a.x.dim(1) > 0, "cuda rmsnorm: empty hidden dimension in x " << shape_str(a.x.shape()));
  GQA_CHECK(a.x.dim(1) <= kThreads * kMaxPerThread, "cuda rmsnorm: rows of " << a.x.dim(1) << " exceed "
                                                                              << kThreads * kMaxPerThread);
  GQA_CHECK(a.x.dtype() == a.weight.dtype() && a.x.dtype() == a.out.dtype(), "cuda rmsnorm: mixed dtypes");
  GQA_CUDA_DISPATCH_FLOAT(a.x.dtype(), "cuda rmsnorm", launch, a, stream);
}

}  // namespace gqa::cuda
