// Device-side conversions shared by the kernels: every kernel loads its element type T (float,
// __half, __nv_bfloat16), computes in f32 and rounds once on the store; unpack16 turns one
// 16-byte vector of T into floats.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

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

// 16 bytes of T -> 16 / sizeof(T) floats (4 for f32, 8 for f16/bf16). Takes the vector by value: callers load it with one
// 16-byte access (`const uint4 raw = *reinterpret_cast<const uint4*>(p)`), then unpack registers.
template <typename T>
__device__ __forceinline__ void unpack16(uint4 raw, float* out);
template <>
__device__ __forceinline__ void unpack16<float>(uint4 raw, float* out) {
  out[0] = __uint_as_float(raw.x);
  out[1] = __uint_as_float(raw.y);
  out[2] = __uint_as_float(raw.z);
  out[3] = __uint_as_float(raw.w);
}
template <>
__device__ __forceinline__ void unpack16<__half>(uint4 raw, float* out) {
  const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    out[2 * i] = __half2float(__ushort_as_half(static_cast<unsigned short>(w[i] & 0xffffu)));
    out[2 * i + 1] = __half2float(__ushort_as_half(static_cast<unsigned short>(w[i] >> 16)));
  }
}
// bf16 is the top half of an f32: element 2i is the low half-word of word i (little endian).
template <>
__device__ __forceinline__ void unpack16<__nv_bfloat16>(uint4 raw, float* out) {
  const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    out[2 * i] = __uint_as_float(w[i] << 16);
    out[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
  }
}

// kN elements of T moved by one access (16 bytes when kN = 16 / sizeof(T)).
template <typename T, int kN>
struct alignas(sizeof(T) * kN) Pack {
  T e[kN];
};

// The two roundings of an add + RMSNorm (rmsnorm.cu, and the decode GEMVs' norm prologue):
// x + residual rounded to T (what the residual stream holds), then x * inv_rms * weight rounded.
template <typename T, int kN>
__device__ __forceinline__ Pack<T, kN> add_rounded(const Pack<T, kN>& x, const Pack<T, kN>& residual) {
  Pack<T, kN> out;
#pragma unroll
  for (int e = 0; e < kN; ++e) out.e[e] = store_f32<T>(load_f32(x.e[e]) + load_f32(residual.e[e]));
  return out;
}
template <typename T, int kN>
__device__ __forceinline__ Pack<T, kN> rms_scaled(const Pack<T, kN>& x, float inv_rms, const Pack<T, kN>& weight) {
  Pack<T, kN> out;
#pragma unroll
  for (int e = 0; e < kN; ++e) out.e[e] = store_f32<T>(load_f32(x.e[e]) * inv_rms * load_f32(weight.e[e]));
  return out;
}
// The sum of the squares of x's elements, in f32.
template <typename T, int kN>
__device__ __forceinline__ float sum_squares(const Pack<T, kN>& x) {
  float sq = 0.0f;
#pragma unroll
  for (int e = 0; e < kN; ++e) {
    const float v = load_f32(x.e[e]);
    sq += v * v;
  }
  return sq;
}

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
