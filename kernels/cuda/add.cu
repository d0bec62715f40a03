#include "kernels/cuda/add.h"
#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/pdl.cuh"

namespace gqa::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void add_kernel(const T* x, T* y, long long count) {
  pdl_wait();
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count; i += stride) {
    y[i] = store_f32<T>(load_f32(y[i]) + load_f32(x[i]));
  }
}

template <typename T>
void launch(const AddArgs& a, cudaStream_t stream) {
  const long long count = a.x.numel();
  if (count == 0) return;
  launch_pdl("add_kernel", add_kernel<T>, grid_for(count, kThreads), kThreads, 0, stream, a.x.data_as<T>(),
             a.y.data_as<T>(), count);
}

}  // namespace

void add(const AddArgs& a, cudaStream_t stream) {
  constexpr const char* kOp = "cuda add";
  detail::expect_device(a.x, kOp, "x");
  detail::expect_float(a.x, kOp, "x");
  detail::expect(a.y, a.x.dtype(), a.x.shape(), kOp, "y");
  GQA_CHECK(a.x.data() == a.y.data() || !overlaps(a.x, a.y), kOp << ": x and y partly overlap");
  GQA_CUDA_DISPATCH_FLOAT(a.x.dtype(), kOp, launch, a, stream);
}

}  // namespace gqa::cuda
