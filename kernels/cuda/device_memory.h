// Device tensors: cudaMalloc'd storage owned by the Tensor, and host<->device copies.
#pragma once

#include <cuda_runtime.h>

#include "core/tensor.h"

namespace gqa::cuda {

Tensor device_alloc(DType dtype, Shape shape);  // not initialised
void copy_to_device(const void* host, Tensor dst, cudaStream_t stream = nullptr);  // synchronous
void copy_to_host(const Tensor& src, void* host, cudaStream_t stream = nullptr);   // synchronous
// Fills every byte with `byte` (tests poison outputs with 0xff = NaN before a run).
void fill_bytes(Tensor t, int byte, cudaStream_t stream = nullptr);

}  // namespace gqa::cuda
