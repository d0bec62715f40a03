#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/swiglu.h"

namespace gqa::cuda {
namespace {

constexpr int kThreads = 256;

// No __restrict__: out may alias gate or up.
template <typename T>
__global__ void swiglu_kernel(const T* gate, const T* up, T* out, long long count) {
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count; i += stride) {
    const float g = load_f32(gate[i]);
    const float u = load_f32(up[i]);
    out[i] = store_f32<T>(g / (1.0f + expf(-g)) * u);  // e^-g = inf for very negative g: a clean -0
  }
}

template <typename T>
void launch(const SwigluArgs& a, cudaStream_t stream) {
  const long long count = a.gate.numel();
  if (count == 0) return;
  swiglu_kernel<T><<<grid_for(count, kThreads), kThreads, 0, stream>>>(a.gate.data_as<T>(), a.up.data_as<T>(),
                                                                       a.out.data_as<T>(), count);
  GQA_CUDA_LAUNCH_CHECK("swiglu_kernel");
}

}  // namespace

void swiglu(const SwigluArgs& a, cudaStream_t stream) {
  constexpr const char* kOp = "cuda swiglu";
  detail::expect_ndim(a.gate, 2, kOp, "gate");
  detail::expect_float(a.gate, kOp, "gate");
  detail::expect(a.up, a.gate.dtype(), a.gate.shape(), kOp, "up");
  detail::expect(a.out, a.gate.dtype(), a.gate.shape(), kOp, "out");
  for (const Tensor* in : {&a.gate, &a.up}) {
    GQA_CHECK(a.out.data() == in->data() || !detail::overlaps(a.out, *in), kOp << ": out partly overlaps an input");
  }
  GQA_CUDA_DISPATCH_FLOAT(a.gate.dtype(), kOp, launch, a, stream);
}

}  // namespace gqa::cuda
