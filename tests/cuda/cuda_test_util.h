// Helpers for the CUDA op tests: seeded random host data rounded to a dtype (so the CPU twin sees
// exactly what the GPU sees), device upload/download (through CudaOps on its stream, or
// synchronously on the default stream for tests that call kernels directly), and the relative
// error ||out - ref|| / ||ref|| over every element, where a NaN anywhere is an infinite error.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_memory.h"

namespace gqa::test {

inline std::vector<float> random_vec(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// n draws from N(mean, stddev^2), continuing `rng` (or from a fresh generator seeded with `seed`).
inline std::vector<float> normal_vec(size_t n, std::mt19937& rng, float mean = 0.0f, float stddev = 1.0f) {
  std::normal_distribution<float> dist(mean, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline std::vector<float> normal_vec(size_t n, uint32_t seed, float mean = 0.0f, float stddev = 1.0f) {
  std::mt19937 rng(seed);
  return normal_vec(n, rng, mean, stddev);
}

// Rounds through `dt` and back: the values a `dt` tensor can hold.
// Host views of test vectors, for the CPU twins.
inline Tensor host_view(std::vector<float>& v, Shape shape) { return Tensor::view(v.data(), DType::kF32, std::move(shape)); }
inline Tensor host_view_i32(std::vector<int32_t>& v, Shape shape) {
  return Tensor::view(v.data(), DType::kI32, std::move(shape));
}

inline std::vector<float> round_to(const std::vector<float>& v, DType dt) {
  std::vector<uint8_t> buf(v.size() * 4 + 4);
  std::vector<float> out(v.size());
  convert_from_f32(v.data(), buf.data(), dt, v.size());
  convert_to_f32(buf.data(), dt, out.data(), v.size());
  return out;
}

// Synchronous copies on the default stream, without a CudaOps: `v` converted to `dt` on the host.
inline Tensor upload(const std::vector<float>& v, DType dt, Shape shape) {
  std::vector<uint8_t> buf(v.size() * dtype_size(dt));
  convert_from_f32(v.data(), buf.data(), dt, v.size());
  Tensor t = cuda::device_alloc(dt, std::move(shape));
  cuda::copy_to_device(buf.data(), t);
  return t;
}

inline Tensor upload_i32(const std::vector<int32_t>& v, Shape shape) {
  Tensor t = cuda::device_alloc(DType::kI32, std::move(shape));
  cuda::copy_to_device(v.data(), t);
  return t;
}

// Any float dtype, as f32.
inline std::vector<float> download(const Tensor& t) {
  std::vector<uint8_t> buf(t.nbytes());
  cuda::copy_to_host(t, buf.data());
  std::vector<float> out(static_cast<size_t>(t.numel()));
  convert_to_f32(buf.data(), t.dtype(), out.data(), out.size());
  return out;
}

inline Tensor to_device(cuda::CudaOps& ops, const std::vector<float>& v, DType dt, Shape shape) {
  Tensor t = ops.alloc(dt, std::move(shape));
  ops.upload_f32(v.data(), t);
  return t;
}

inline Tensor to_device_i32(cuda::CudaOps& ops, const std::vector<int32_t>& v, Shape shape) {
  Tensor t = ops.alloc(DType::kI32, std::move(shape));
  ops.upload_i32(v.data(), t);
  return t;
}

inline std::vector<float> to_host(cuda::CudaOps& ops, const Tensor& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  ops.download_f32(t, out.data());
  return out;
}

inline std::vector<int32_t> to_host_i32(cuda::CudaOps& ops, const Tensor& t) {
  std::vector<int32_t> out(static_cast<size_t>(t.numel()));
  cuda::copy_to_host(t, out.data(), ops.cuda_stream());
  return out;
}

// An output tensor whose every byte is 0xff (a NaN in f32, f16 and bf16): unwritten elements fail.
// i32 outputs get 0x7f bytes instead (0x7f7f7f7f, no token id): 0xff would read as -1, the very
// value the sampling kernels write for a NaN row, so a skipped row would pass.
inline Tensor poisoned(cuda::CudaOps& ops, DType dt, Shape shape) {
  Tensor t = ops.alloc(dt, std::move(shape));
  cuda::fill_bytes(t, dt == DType::kI32 ? 0x7f : 0xff, ops.cuda_stream());
  return t;
}

inline double rel_error(const std::vector<float>& out, const std::vector<float>& ref) {
  if (out.size() != ref.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (std::isnan(out[i]) || std::isnan(ref[i])) return INFINITY;
    const double d = static_cast<double>(out[i]) - ref[i];
    num += d * d;
    den += static_cast<double>(ref[i]) * ref[i];
  }
  if (den == 0) return num == 0 ? 0.0 : INFINITY;
  return std::sqrt(num / den);
}

// The tolerance for an op's output in `dt`: f32 tight, 16-bit formats at their rounding level.
inline double tolerance(DType dt, double f32_tol = 1e-5) { return dt == DType::kF32 ? f32_tol : 1e-2; }

// The body of a death test whose statement must end in a gqa::Error from the GPU (a device assert
// or trap leaves the process's context unusable, hence a child process): runs `f`; an Error is
// printed as "caught: <message>" on stderr and the process aborts; no error prints "no error" and
// exits 0 (which EXPECT_DEATH counts as a failure). Match on "caught: .*<what the error says>".
template <typename F>
[[noreturn]] void die_with_error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    std::fprintf(stderr, "caught: %s\n", e.what());
    std::fflush(stderr);
    std::abort();
  }
  std::fprintf(stderr, "no error\n");
  std::exit(0);
}

}  // namespace gqa::test
