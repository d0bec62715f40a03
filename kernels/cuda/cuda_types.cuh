// Device-side scalar conversions shared by the elementwise kernels: every kernel loads its
// element type T (float, __half, __nv_bfloat16), computes in f32 and rounds once on the store.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace gqa::cuda {

template <typename T>
__device__ __forceinline__ float load_f32(T v) { return static_cast<float>(v); }
template <>
__device__ __forceinline__ float load_f32<__half>(__half v) { return __half2float(v); }
template <>
__device__ __forceinline__ float load_f32<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T store_f32(float v) { return static_cast<T>(v); }
template <>
__device__ __forceinline__ __half store_f32<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 store_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// Blocks for a grid-stride loop over `count` elements with `threads` per block.
inline unsigned int grid_for(long long count, int threads) {
  const long long blocks = (count + threads - 1) / threads;
  return static_cast<unsigned int>(blocks < 1 ? 1 : (blocks > 65536 ? 65536 : blocks));
}

}  // namespace gqa::cuda

// Runs `launch<T>(args...)` for the element type of `dtype` (f32, f16 or bf16); any other
// dtype throws gqa::Error naming `op`.
#define GQA_CUDA_DISPATCH_FLOAT(dtype, op, launch, ...)                                   \
  do {                                                                                    \
    switch (dtype) {                                                                      \
      case ::gqa::DType::kF32: launch<float>(__VA_ARGS__); break;                         \
      case ::gqa::DType::kF16: launch<__half>(__VA_ARGS__); break;                        \
      case ::gqa::DType::kBF16: launch<__nv_bfloat16>(__VA_ARGS__); break;                \
      default: GQA_FAIL(op << ": unsupported dtype " << ::gqa::dtype_name(dtype));         \
    }                                                                                     \
  } while (0)
