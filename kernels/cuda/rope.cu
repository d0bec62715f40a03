// One thread block per token; threads walk the (head, i) pairs of that token. cos/sin are
// recomputed per head: cheap next to the memory traffic, and it keeps the kernel stateless.
#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/rope.h"
#include "kernels/cuda/device_require.cuh"

namespace gqa::cuda {
namespace {

constexpr int kThreads = 128;

template <typename T>
__global__ void rope_kernel(T* x, const int32_t* positions, const float* inv_freq, int heads, int half,
                            float attention_scaling) {
  const long long t = blockIdx.x;
  const int p = positions[t];
  // A corrupt step input: fail loudly rather than rotate by garbage.
  GQA_DEVICE_REQUIRE(p >= 0, "rope: a negative position");
  const float pos = static_cast<float>(p);
  T* row = x + t * heads * 2LL * half;
  for (int idx = threadIdx.x; idx < heads * half; idx += blockDim.x) {
    const int h = idx / half, i = idx % half;
    const float angle = __fmul_rn(pos, inv_freq[i]);  // one f32 rounding, as in transformers
    const float c = cosf(angle) * attention_scaling;
    const float s = sinf(angle) * attention_scaling;
    T* v = row + static_cast<long long>(h) * 2 * half;
    const float x1 = load_f32(v[i]);
    const float x2 = load_f32(v[i + half]);
    v[i] = store_f32<T>(x1 * c - x2 * s);
    v[i + half] = store_f32<T>(x2 * c + x1 * s);
  }
}

template <typename T>
void launch(const RopeArgs& a, cudaStream_t stream) {
  const long long n = a.x.dim(0);
  const int heads = static_cast<int>(a.x.dim(1)), half = static_cast<int>(a.x.dim(2) / 2);
  if (n == 0 || heads == 0 || half == 0) return;
  rope_kernel<T><<<static_cast<unsigned int>(n), kThreads, 0, stream>>>(
      a.x.data_as<T>(), a.positions.data_as<int32_t>(), a.inv_freq.data_as<float>(), heads, half,
      a.attention_scaling);
  GQA_CUDA_LAUNCH_CHECK("rope_kernel");
}

}  // namespace

void rope(const RopeArgs& a, cudaStream_t stream) {
  constexpr const char* kOp = "cuda rope";
  detail::expect_ndim(a.x, 3, kOp, "x");
  detail::expect_float(a.x, kOp, "x");
  const int64_t n = a.x.dim(0), heads = a.x.dim(1), hd = a.x.dim(2);
  GQA_CHECK(hd % 2 == 0, kOp << ": head_dim must be even, x is " << shape_str(a.x.shape()));
  GQA_CHECK(n <= 0x7fffffffLL && heads * hd <= 0x7fffffffLL, kOp << ": x " << shape_str(a.x.shape()) << " too large");
  detail::expect(a.positions, DType::kI32, {n}, kOp, "positions");
  detail::expect(a.inv_freq, DType::kF32, {hd / 2}, kOp, "inv_freq");
  GQA_CUDA_DISPATCH_FLOAT(a.x.dtype(), kOp, launch, a, stream);
}

}  // namespace gqa::cuda
