// Rotary embedding on the GPU, in place, in the Hugging Face rotate_half convention, computed
// exactly as the CPU twin (kernels/cpu/rope.cpp): angle = float(pos) * inv_freq[i] rounded to
// f32, cos/sin in f32 times attention_scaling, then
//   out_i = x_i c - x_{i+hd/2} s,  out_{i+hd/2} = x_{i+hd/2} c + x_i s   (in f32, rounded once).
// x: [n, heads, hd] f32/f16/bf16; positions: i32 [n]; inv_freq: f32 [hd/2]. All on the device.
// A negative position stops the kernel with a named device-side assert (device_require.cuh; the
// CPU twin throws).
#pragma once

#include <cuda_runtime.h>

#include "kernels/ops.h"

namespace gqa::cuda {

void rope(const RopeArgs& a, cudaStream_t stream);

}  // namespace gqa::cuda
