#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/swiglu.h"

namespace gqa::cuda {
namespace {

constexpr int kThreads = 256;

// gate_up [n, 2f] (row: gate then up) -> out [n, f]; element i of out is row i / f, column i % f.
template <typename T>
__global__ void swiglu_kernel(const T* __restrict__ gate_up, T* __restrict__ out, long long count, long long f) {
  pdl_wait();
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count; i += stride) {
    const long long row = i / f, col = i - row * f;
    const float g = load_f32(gate_up[row * 2 * f + col]);
    const float u = load_f32(gate_up[row * 2 * f + f + col]);
    out[i] = store_f32<T>(g / (1.0f + expf(-g)) * u);  // e^-g = inf for very negative g: a clean -0
  }
}

template <typename T>
void launch(const SwigluArgs& a, cudaStream_t stream) {
  const long long count = a.out.numel(), f = a.out.dim(1);
  if (count == 0) return;
  launch_pdl("swiglu_kernel", swiglu_kernel<T>, grid_for(count, kThreads), kThreads, 0, stream,
             a.gate_up.data_as<T>(), a.out.data_as<T>(), count, f);
}

}  // namespace

void swiglu(const SwigluArgs& a, cudaStream_t stream) {
  constexpr const char* kOp = "cuda swiglu";
  detail::expect_ndim(a.gate_up, 2, kOp, "gate_up");
  detail::expect_float(a.gate_up, kOp, "gate_up");
  GQA_CHECK(a.gate_up.dim(1) % 2 == 0, kOp << ": gate_up " << shape_str(a.gate_up.shape()) << " has an odd width");
  detail::expect(a.out, a.gate_up.dtype(), {a.gate_up.dim(0), a.gate_up.dim(1) / 2}, kOp, "out");
  GQA_CHECK(!overlaps(a.out, a.gate_up), kOp << ": out overlaps gate_up");
  GQA_CUDA_DISPATCH_FLOAT(a.gate_up.dtype(), kOp, launch, a, stream);
}

}  // namespace gqa::cuda
