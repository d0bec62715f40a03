#include "kernels/cuda/bias_add.h"
#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/pdl.cuh"

namespace gqa::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void bias_add_kernel(const T* bias, T* y, long long count, long long m) {
  pdl_wait();
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count; i += stride) {
    y[i] = store_f32<T>(load_f32(y[i]) + load_f32(bias[i % m]));
  }
}

template <typename T>
void launch(const BiasAddArgs& a, cudaStream_t stream) {
  const long long count = a.y.numel(), m = a.y.dim(1);
  if (count == 0) return;
  launch_pdl("bias_add_kernel", bias_add_kernel<T>, grid_for(count, kThreads), kThreads, 0, stream,
             a.bias.data_as<T>(), a.y.data_as<T>(), count, m);
}

}  // namespace

void bias_add(const BiasAddArgs& a, cudaStream_t stream) {
  constexpr const char* kOp = "cuda bias_add";
  detail::expect_ndim(a.y, 2, kOp, "y");
  detail::expect_float(a.y, kOp, "y");
  detail::expect(a.bias, a.y.dtype(), {a.y.dim(1)}, kOp, "bias");
  GQA_CHECK(!overlaps(a.bias, a.y), kOp << ": bias overlaps y");
  GQA_CUDA_DISPATCH_FLOAT(a.y.dtype(), kOp, launch, a, stream);
}

}  // namespace gqa::cuda
