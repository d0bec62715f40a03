// Embedding lookup on the GPU (vocab-parallel): out[t] = table[ids[t] - vocab_begin], or a zero
// row when the id is outside this rank's slice (another rank supplies it; the model sums).
// table and out share the dtype (f32, f16 or bf16); ids are i32. All tensors on the device.
#pragma once

#include <cuda_runtime.h>

#include "kernels/ops.h"

namespace gqa::cuda {

void embedding(const EmbeddingArgs& a, cudaStream_t stream);

}  // namespace gqa::cuda
