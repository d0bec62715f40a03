// CUDA RMSNorm (with and without the fused residual add) against the CPU twin, every element,
// f32 / f16 / bf16. Outputs are poisoned with NaN bytes first so an unwritten element fails.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/rmsnorm.h"
#include "tests/cuda/cuda_test_util.h"

namespace gqa {
namespace {

using test::download;
using test::normal_vec;
using test::rel_error;
using test::round_to;  // on the host, so the CPU reference sees exactly the GPU's inputs
using test::upload;

class CudaRmsNorm : public ::testing::TestWithParam<std::tuple<DType, int64_t, bool>> {};

TEST_P(CudaRmsNorm, MatchesCpuTwin) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const auto [dt, d, with_residual] = GetParam();
  const int64_t n = 7;
  std::vector<float> x = round_to(normal_vec(n * d, 1), dt);
  std::vector<float> r = round_to(normal_vec(n * d, 2), dt);
  std::vector<float> w = round_to(normal_vec(d, 3, 1.0f), dt);

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
  const double tol = test::tolerance(dt);
  EXPECT_LT(rel_error(download(gout), ref), tol);
  if (with_residual) {
    EXPECT_LT(rel_error(download(gx), xr), tol);
  }
}

// The model's two aliasing patterns of the fused op: out = residual (x += h; h = norm(x), mid
// layer) and out = x (x += h; x = norm(x), before the LM head).
TEST(CudaRmsNormAliasing, OutMayAliasResidualOrX) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const DType dt = DType::kBF16;
  const int64_t n = 3, d = 1000;
  const std::vector<float> x = round_to(normal_vec(n * d, 11), dt), r = round_to(normal_vec(n * d, 12), dt);
  const std::vector<float> w = round_to(normal_vec(d, 13, 1.0f), dt);
  std::vector<float> xr = x;
  for (size_t i = 0; i < xr.size(); ++i) xr[i] += r[i];
  xr = round_to(xr, dt);
  std::vector<float> ref(n * d);
  cpu::rmsnorm({Tensor::view(xr.data(), DType::kF32, {n, d}),
                Tensor::view(const_cast<float*>(w.data()), DType::kF32, {d}),
                Tensor::view(ref.data(), DType::kF32, {n, d}), 1e-5f});
  for (bool out_is_residual : {true, false}) {
    Tensor gx = upload(x, dt, {n, d}), gr = upload(r, dt, {n, d}), gw = upload(w, dt, {d});
    cuda::rmsnorm({gx, gr, gw, out_is_residual ? gr : gx, 1e-5f}, nullptr);
    EXPECT_LT(rel_error(download(out_is_residual ? gr : gx), ref), test::tolerance(dt)) << out_is_residual;
    if (out_is_residual) {
      EXPECT_LT(rel_error(download(gx), xr), test::tolerance(dt));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllDtypes, CudaRmsNorm,
                         ::testing::Combine(::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                                            ::testing::Values<int64_t>(128, 1000, 8192),
                                            ::testing::Bool()));

}  // namespace
}  // namespace gqa
