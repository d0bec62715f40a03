// Element types and the scalar conversions between them (host side).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace gqa {

enum class DType { kF32, kF16, kBF16, kI32 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "f32", "f16", "bf16", "i32"

// bf16 is the top half of an f32; rounding is round-to-nearest-even, NaN stays NaN.
inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// Converts n elements of type `src_type` at `src` to f32 at `dst`.
void convert_to_f32(const void* src, DType src_type, float* dst, size_t n);
// Converts n f32 elements to `dst_type` (f32, f16 or bf16) at `dst`.
void convert_from_f32(const float* src, void* dst, DType dst_type, size_t n);

}  // namespace gqa
