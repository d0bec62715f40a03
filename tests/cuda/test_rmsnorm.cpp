// CUDA RMSNorm (with and without the fused residual add) against the CPU twin, every element,
// f32 / f16 / bf16. Outputs are poisoned with NaN bytes first so an unwritten element fails.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/rmsnorm.h"

namespace gqa {
namespace {

std::vector<float> random_vec(size_t n, uint32_t seed, float mean = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Rounds through `dt` on the host so the CPU reference sees exactly the GPU's inputs.
std::vector<float> round_to(const std::vector<float>& v, DType dt) {
  std::vector<uint16_t> buf(v.size() * 2);
  std::vector<float> out(v.size());
  convert_from_f32(v.data(), buf.data(), dt, v.size());
  convert_to_f32(buf.data(), dt, out.data(), v.size());
  return out;
}

Tensor upload(const std::vector<float>& v, DType dt, Shape shape) {
  std::vector<uint8_t> buf(v.size() * dtype_size(dt));
  convert_from_f32(v.data(), buf.data(), dt, v.size());
  Tensor t = cuda::device_alloc(dt, std::move(shape));
  cuda::copy_to_device(buf.data(), t);
  return t;
}

std::vector<float> download(const Tensor& t) {
  std::vector<uint8_t> buf(t.nbytes());
  cuda::copy_to_host(t, buf.data());
  std::vector<float> out(t.numel());
  convert_to_f32(buf.data(), t.dtype(), out.data(), out.size());
  return out;
}

double rel_error(const std::vector<float>& out, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (std::isnan(out[i])) return INFINITY;
    num += (out[i] - ref[i]) * double(out[i] - ref[i]);
    den += double(ref[i]) * ref[i];
  }
  return std::sqrt(num / den);
}

class CudaRmsNorm : public ::testing::TestWithParam<std::tuple<DType, int64_t, bool>> {};

TEST_P(CudaRmsNorm, MatchesCpuTwin) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const auto [dt, d, with_residual] = GetParam();
  const int64_t n = 7;
  std::vector<float> x = round_to(random_vec(n * d, 1), dt);
  std::vector<float> r = round_to(random_vec(n * d, 2), dt);
  std::vector<float> w = round_to(random_vec(d, 3, 1.0f), dt);

  // CPU twin: residual add rounded to dt (as the GPU stores it), then rmsnorm in f32.
  std::vector<float> xr = x;
  if (with_residual) {
    for (size_t i = 0; i < xr.size(); ++i) xr[i] += r[i];
    xr = round_to(xr, dt);
  }
  std::vector<float> ref(n * d);
  cpu::rmsnorm({Tensor::view(xr.data(), DType::kF32, {n, d}), Tensor::view(w.data(), DType::kF32, {d}),
                Tensor::view(ref.data(), DType::kF32, {n, d}), 1e-5f});

  Tensor gx = upload(x, dt, {n, d}), gw = upload(w, dt, {d});
  Tensor gr = with_residual ? upload(r, dt, {n, d}) : Tensor();
  Tensor gout = cuda::device_alloc(dt, {n, d});
  cuda::fill_bytes(gout, 0xff);
  cuda::rmsnorm({gx, gr, gw, gout, 1e-5f}, nullptr);
  const double tol = dt == DType::kF32 ? 1e-5 : 1e-2;
  EXPECT_LT(rel_error(download(gout), ref), tol);
  if (with_residual) EXPECT_LT(rel_error(download(gx), xr), tol);
}

INSTANTIATE_TEST_SUITE_P(AllDtypes, CudaRmsNorm,
                         ::testing::Combine(::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                                            ::testing::Values<int64_t>(128, 1000, 8192),
                                            ::testing::Bool()));

}  // namespace
}  // namespace gqa
