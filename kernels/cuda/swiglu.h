// SwiGLU on the GPU: out = silu(gate) * up, silu(g) = g / (1 + e^-g) as in torch, computed in
// f32 and rounded once. gate, up, out: [n, f], one dtype (f32, f16, bf16); out may alias gate
// or up (each element is read before it is written, by the same thread).
#pragma once

#include <cuda_runtime.h>

#include "kernels/ops.h"

namespace gqa::cuda {

void swiglu(const SwigluArgs& a, cudaStream_t stream);

}  // namespace gqa::cuda
