// Row-broadcast bias add on the GPU: y[r, j] += bias[j] (the GEMM's bias, added after it).
// y: [n, m], bias: [m], one dtype (f32, f16, bf16); summed in f32, rounded once.
#pragma once

#include <cuda_runtime.h>

#include "kernels/ops.h"

namespace gqa::cuda {

struct BiasAddArgs {
  Tensor bias;  // [m]
  Tensor y;     // [n, m], updated in place
};

void bias_add(const BiasAddArgs& a, cudaStream_t stream);

}  // namespace gqa::cuda
