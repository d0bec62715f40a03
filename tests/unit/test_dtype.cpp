// Scalar dtype conversions (src/core/dtype.h): known bit patterns, every f16 value, and a
// sweep of f32 inputs checked against an independent round-to-nearest-even written in double.
#include <gtest/gtest.h>

#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace gqa {
namespace {

float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
uint32_t to_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// Round |x| to a binary format with `mant_bits` explicit mantissa bits, minimum normal exponent
// `min_exp` and overflow threshold `overflow` (the first value that is rounded to infinity).
// Works in double with nearbyint (round-half-even in the default rounding mode).
double ref_round(double x, int mant_bits, int min_exp, double overflow) {
  if (std::isinf(x)) return x;
  const double a = std::fabs(x);
  if (a == 0.0) return x;
  int e = 0;
  std::frexp(a, &e);                          // a = m * 2^e with m in [0.5, 1): leading bit 2^(e-1)
  const int lead = std::max(e - 1, min_exp);  // subnormals share the minimum exponent's quantum
  const double quantum = std::ldexp(1.0, lead - mant_bits);
  double r = std::nearbyint(a / quantum) * quantum;
  if (r >= overflow) r = std::numeric_limits<double>::infinity();
  return std::copysign(r, x);
}
double ref_f16(float f) { return ref_round(f, 10, -14, 65536.0); }
double ref_bf16(float f) { return ref_round(f, 7, -126, std::ldexp(1.0, 128)); }

// Independent decoding of an f16 bit pattern.
double decode_f16(uint16_t h) {
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exp == 0x1f) return mant ? std::numeric_limits<double>::quiet_NaN() : sign * INFINITY;
  if (exp == 0) return sign * std::ldexp(mant, -24);
  return sign * std::ldexp(1024 + mant, exp - 25);
}

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::kF32), 4u);
  EXPECT_EQ(dtype_size(DType::kI32), 4u);
  EXPECT_EQ(dtype_size(DType::kF16), 2u);
  EXPECT_EQ(dtype_size(DType::kBF16), 2u);
  EXPECT_STREQ(dtype_name(DType::kF32), "f32");
  EXPECT_STREQ(dtype_name(DType::kF16), "f16");
  EXPECT_STREQ(dtype_name(DType::kBF16), "bf16");
  EXPECT_STREQ(dtype_name(DType::kI32), "i32");
}

TEST(DType, F16KnownBitPatterns) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xC000);
  EXPECT_EQ(f32_to_f16(0.5f), 0x3800);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);   // largest finite
  EXPECT_EQ(f32_to_f16(65519.99f), 0x7BFF);  // just below the rounding boundary
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);   // tie with 65536 rounds to even = inf
  EXPECT_EQ(f32_to_f16(1e10f), 0x7C00);
  EXPECT_EQ(f32_to_f16(-1e10f), 0xFC00);
  EXPECT_EQ(f32_to_f16(1.0f / 3.0f), 0x3555);
  EXPECT_EQ(f32_to_f16(5.96e-8f), 0x0001);               // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -24)), 0x03FF);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // tie -> even (0)
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);  // tie 1.5 -> 2
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -26)), 0x0000);
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie -> even
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(3.0f, -11)), 0x3C02);  // tie -> even (up)
  EXPECT_EQ(f32_to_f16(0.0f), 0x0000);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(INFINITY), 0x7C00);
  EXPECT_EQ(f32_to_f16(-INFINITY), 0xFC00);
  for (uint32_t nan_bits : {0x7FC00000u, 0x7F800001u, 0xFFC00000u, 0x7FBFFFFFu}) {
    const uint16_t h = f32_to_f16(from_bits(nan_bits));
    EXPECT_EQ(h & 0x7C00, 0x7C00) << std::hex << nan_bits;
    EXPECT_NE(h & 0x03FF, 0) << "NaN " << std::hex << nan_bits << " became infinity";
  }
}

TEST(DType, F16ToF32EveryValue) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    const double want = decode_f16(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << h;
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), want) << "f16 bits 0x" << std::hex << h;
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << h;
    ASSERT_EQ(f32_to_f16(f), h) << "round trip of f16 bits 0x" << std::hex << h;
  }
}

// Midpoints between neighbouring f16 values (ties) and their f32 neighbours, plus a sweep of
// f32 bit patterns, against the double reference.
TEST(DType, F32ToF16MatchesReference) {
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  std::vector<float> inputs;
  for (uint32_t h = 0; h < 0x7BFF; ++h) {  // 0x7BFF..inf: see 65520 above
    const double mid = (decode_f16(static_cast<uint16_t>(h)) + decode_f16(static_cast<uint16_t>(h + 1))) / 2;
    const float m = static_cast<float>(mid);  // exact: f16 midpoints need 12 bits
    for (float f : {m, std::nextafter(m, 0.0f), std::nextafter(m, INFINITY)}) {
      inputs.push_back(f);
      inputs.push_back(-f);
    }
  }
  for (uint64_t b = 0; b <= 0xFFFFFFFFull; b += 1021) inputs.push_back(from_bits(static_cast<uint32_t>(b)));
  for (float f : inputs) {
    if (std::isnan(f)) continue;
    const uint16_t h = f32_to_f16(f);
    ASSERT_EQ(decode_f16(h), ref_f16(f)) << "f32 bits 0x" << std::hex << to_bits(f);
    ASSERT_EQ((h & 0x8000) != 0, std::signbit(f)) << std::hex << to_bits(f);
  }
}

TEST(DType, BF16KnownBitPatterns) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(-2.0f), 0xC000);
  EXPECT_EQ(f32_to_bf16(1.0f / 3.0f), 0x3EAB);             // 0x3EAAAAAB rounds up
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F808000u)), 0x3F80);  // tie -> even (down)
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F818000u)), 0x3F82);  // tie -> even (up)
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F808001u)), 0x3F81);
  EXPECT_EQ(f32_to_bf16(from_bits(0x7F7F7FFFu)), 0x7F7F);             // stays the largest finite
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds to inf
  EXPECT_EQ(f32_to_bf16(INFINITY), 0x7F80);
  EXPECT_EQ(f32_to_bf16(-INFINITY), 0xFF80);
  EXPECT_EQ(f32_to_bf16(0.0f), 0x0000);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_bf16(from_bits(0x00000001u)), 0x0000);  // subnormals round like normals
  EXPECT_EQ(f32_to_bf16(from_bits(0x00008000u)), 0x0000);  // tie -> even
  EXPECT_EQ(f32_to_bf16(from_bits(0x00018000u)), 0x0002);
  EXPECT_EQ(f32_to_bf16(from_bits(0x007FFFFFu)), 0x0080);  // rounds up to the smallest normal
  for (uint32_t nan_bits : {0x7FC00000u, 0x7F800001u, 0xFF800001u, 0x7FFFFFFFu}) {
    const uint16_t h = f32_to_bf16(from_bits(nan_bits));
    EXPECT_TRUE(std::isnan(bf16_to_f32(h))) << std::hex << nan_bits << " -> " << h;
    EXPECT_EQ((h & 0x8000) != 0, (nan_bits & 0x80000000u) != 0);
  }
}

TEST(DType, BF16MatchesReference) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {  // every bf16 value survives a round trip
    const float f = bf16_to_f32(static_cast<uint16_t>(h));
    ASSERT_EQ(to_bits(f), h << 16);
    if (!std::isnan(f)) {
      ASSERT_EQ(f32_to_bf16(f), h) << std::hex << h;
    }
  }
  for (uint64_t b = 0; b <= 0xFFFFFFFFull; b += 1021) {
    const float f = from_bits(static_cast<uint32_t>(b));
    if (std::isnan(f)) continue;
    const uint16_t h = f32_to_bf16(f);
    ASSERT_EQ(static_cast<double>(bf16_to_f32(h)), ref_bf16(f)) << "f32 bits 0x" << std::hex << b;
    ASSERT_EQ((h & 0x8000) != 0, std::signbit(f)) << std::hex << b;
  }
}

TEST(DType, BufferConversions) {
  const std::vector<float> src = {1.0f, -0.5f, 1.0f / 3.0f, 65504.0f, 0.0f};
  std::vector<float> back(src.size());

  std::vector<uint16_t> half(src.size());
  convert_from_f32(src.data(), half.data(), DType::kF16, src.size());
  for (size_t i = 0; i < src.size(); ++i) EXPECT_EQ(half[i], f32_to_f16(src[i]));
  convert_to_f32(half.data(), DType::kF16, back.data(), src.size());
  for (size_t i = 0; i < src.size(); ++i) EXPECT_EQ(back[i], f16_to_f32(half[i]));

  std::vector<uint16_t> brain(src.size());
  convert_from_f32(src.data(), brain.data(), DType::kBF16, src.size());
  for (size_t i = 0; i < src.size(); ++i) EXPECT_EQ(brain[i], f32_to_bf16(src[i]));
  convert_to_f32(brain.data(), DType::kBF16, back.data(), src.size());
  for (size_t i = 0; i < src.size(); ++i) EXPECT_EQ(back[i], bf16_to_f32(brain[i]));

  std::vector<float> same(src.size());
  convert_from_f32(src.data(), same.data(), DType::kF32, src.size());
  convert_to_f32(same.data(), DType::kF32, back.data(), src.size());
  EXPECT_EQ(back, src);

  float one = 0.0f;  // one element, and none (null pointers: a UBSan build checks the memcpy is skipped)
  convert_from_f32(src.data() + 1, &one, DType::kF32, 1);
  EXPECT_EQ(one, src[1]);
  convert_to_f32(src.data() + 2, DType::kF32, &one, 1);
  EXPECT_EQ(one, src[2]);
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    convert_to_f32(nullptr, t, nullptr, 0);
    convert_from_f32(nullptr, nullptr, t, 0);
  }

  std::vector<int32_t> ints(src.size());
  EXPECT_THROW(convert_from_f32(src.data(), ints.data(), DType::kI32, src.size()), Error);
  EXPECT_THROW(convert_to_f32(ints.data(), DType::kI32, back.data(), src.size()), Error);
}

}  // namespace
}  // namespace gqa
