// Elementwise add on the GPU: y += x (the residual add), same shape and dtype (f32, f16, bf16),
// summed in f32 and rounded once to the dtype.
#pragma once

#include <cuda_runtime.h>

#include "kernels/ops.h"

namespace gqa::cuda {

struct AddArgs {
  Tensor x;  // [any shape]
  Tensor y;  // [same shape], updated in place
};

void add(const AddArgs& a, cudaStream_t stream);

}  // namespace gqa::cuda
