// RMSNorm on the GPU, optionally fused with the residual add that precedes it in a decoder layer:
//   residual defined: x += residual (written back to x, or to x_out when that is defined), then
//   out = rmsnorm(x + residual) * weight.
// f32, f16 or bf16 tensors (all the same dtype); statistics accumulate in f32.
#pragma once

#include <cuda_runtime.h>

#include "kernels/ops.h"

namespace gqa::cuda {

struct RmsNormResidualArgs {
  Tensor x;         // [n, d] device; updated in place when residual is defined
  Tensor residual;  // [n, d] device, or undefined
  Tensor weight;    // [d] device
  Tensor out;       // [n, d] device (may alias x)
  float eps = 1e-6f;
  Tensor x_out = Tensor();  // [n, d] device, or undefined (x is updated in place); needs a residual
};

void rmsnorm(const RmsNormResidualArgs& a, cudaStream_t stream);

}  // namespace gqa::cuda
