// CUDA RMSNorm (with and without the fused residual add) against the CPU twin, every element,
// f32 / f16 / bf16. Outputs are poisoned with NaN bytes first so an unwritten element fails.
// Widths and addresses cover both kernel paths: 16-byte accesses (width a multiple of 8 for
// f16/bf16, of 4 for f32, 16-byte aligned pointers) and the element-wise fallback.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/pdl.h"
#include "kernels/cuda/rmsnorm.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/support/expect_error.h"

namespace gqa {
namespace {

using test::download;
using test::normal_vec;
using test::rel_error;
using test::round_to;  // on the host, so the CPU reference sees exactly the GPU's inputs
using test::upload;

// The CPU twin of the fused op on host copies: xr = x (+ r, rounded to dt as the GPU stores it;
// x read from x0 on), ref = rmsnorm(xr) * w in f32.
struct NormRef {
  std::vector<float> xr, ref;
};
NormRef norm_reference(const float* x0, const std::vector<float>* r, const std::vector<float>& w, int64_t n, int64_t d,
                       DType dt) {
  NormRef o;
  o.xr.assign(x0, x0 + n * d);
  if (r != nullptr) {
    for (size_t i = 0; i < o.xr.size(); ++i) o.xr[i] += (*r)[i];
    o.xr = round_to(o.xr, dt);
  }
  o.ref.resize(n * d);
  cpu::rmsnorm({Tensor::view(o.xr.data(), DType::kF32, {n, d}),
                Tensor::view(const_cast<float*>(w.data()), DType::kF32, {d}),
                Tensor::view(o.ref.data(), DType::kF32, {n, d}), 1e-5f});
  return o;
}

class CudaRmsNorm : public ::testing::TestWithParam<std::tuple<DType, int64_t, bool>> {};

TEST_P(CudaRmsNorm, MatchesCpuTwin) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const auto [dt, d, with_residual] = GetParam();
  const int64_t n = 7;
  std::vector<float> x = round_to(normal_vec(n * d, 1), dt);
  std::vector<float> r = round_to(normal_vec(n * d, 2), dt);
  std::vector<float> w = round_to(normal_vec(d, 3, 1.0f), dt);

  const auto [xr, ref] = norm_reference(x.data(), with_residual ? &r : nullptr, w, n, d, dt);

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

// Two RMSNorms in a row (the second normalises the first's output plus a residual) with PDL on,
// with the early trigger (GQA_PDL_EARLY, the default: each lets its successor launch before it
// waits) and without it.
TEST(CudaRmsNormEarlyPdl, ChainMatchesCpuTwin) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const cuda::ScopedSwitch pdl(cuda::pdl_enabled, cuda::set_pdl, true);
  for (bool early_on : {true, false}) {
    SCOPED_TRACE(early_on ? "early trigger" : "trigger after the wait");
    const cuda::ScopedSwitch early(cuda::pdl_early_enabled, cuda::set_pdl_early, early_on);
    const DType dt = DType::kBF16;
    const int64_t n = 3, d = 8192;
    const std::vector<float> x = round_to(normal_vec(n * d, 11), dt), r = round_to(normal_vec(n * d, 12), dt);
    const std::vector<float> w = round_to(normal_vec(d, 13, 1.0f), dt);
    const NormRef first = norm_reference(x.data(), nullptr, w, n, d, dt);
    const std::vector<float> h = round_to(first.ref, dt);  // what the GPU stores
    const NormRef second = norm_reference(h.data(), &r, w, n, d, dt);
    Tensor gx = upload(x, dt, {n, d}), gw = upload(w, dt, {d}), gr = upload(r, dt, {n, d});
    Tensor g1 = cuda::device_alloc(dt, {n, d}), g2 = cuda::device_alloc(dt, {n, d});
    cuda::fill_bytes(g1, 0xff);
    cuda::fill_bytes(g2, 0xff);
    cuda::rmsnorm({gx, Tensor(), gw, g1, 1e-5f}, nullptr);
    cuda::rmsnorm({g1, gr, gw, g2, 1e-5f}, nullptr);  // g1 += r, then g2 = norm(g1)
    EXPECT_LT(rel_error(download(g2), second.ref), test::tolerance(dt));
    EXPECT_LT(rel_error(download(g1), second.xr), test::tolerance(dt));
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
  const auto [xr, ref] = norm_reference(x.data(), &r, w, n, d, dt);
  for (bool out_is_residual : {true, false}) {
    Tensor gx = upload(x, dt, {n, d}), gr = upload(r, dt, {n, d}), gw = upload(w, dt, {d});
    cuda::rmsnorm({gx, gr, gw, out_is_residual ? gr : gx, 1e-5f}, nullptr);
    EXPECT_LT(rel_error(download(out_is_residual ? gr : gx), ref), test::tolerance(dt)) << out_is_residual;
    if (out_is_residual) {
      EXPECT_LT(rel_error(download(gx), xr), test::tolerance(dt));
    }
  }
}

// Rows that start off the 16-byte grid (a view one element into its buffer) take the
// element-wise path even though the width would allow 16-byte accesses; out aliases x.
TEST(CudaRmsNormAlignment, UnalignedRowsMatchCpuTwin) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (DType dt : {DType::kF32, DType::kBF16}) {
    const int64_t n = 4, d = 1024;
    const std::vector<float> x = round_to(normal_vec(n * d + 1, 21), dt), r = round_to(normal_vec(n * d, 22), dt);
    const std::vector<float> w = round_to(normal_vec(d, 23, 1.0f), dt);
    const std::vector<float> ref = norm_reference(x.data() + 1, &r, w, n, d, dt).ref;
    Tensor gx = upload(x, dt, {n * d + 1}).slice_rows(1, n * d + 1).reshape({n, d});
    Tensor gr = upload(r, dt, {n, d}), gw = upload(w, dt, {d});
    cuda::rmsnorm({gx, gr, gw, gx, 1e-5f}, nullptr);
    EXPECT_LT(rel_error(download(gx), ref), test::tolerance(dt)) << dtype_name(dt);
  }
}

// The widest rows each path keeps in registers: 8192 element-wise (any dtype), 16384 f16/bf16
// and 8192 f32 with 16-byte accesses. Wider rows are refused, naming the op.
TEST(CudaRmsNormLimits, WidestRowsAndRefusals) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const struct {
    DType dt;
    int64_t d;
    bool fits;
  } cases[] = {{DType::kBF16, 16384, true}, {DType::kBF16, 16392, false}, {DType::kBF16, 8193, false},
               {DType::kF32, 8192, true},   {DType::kF32, 8196, false},   {DType::kF16, 8193, false}};
  for (const auto& c : cases) {
    const int64_t n = 2;
    Tensor gx = cuda::device_alloc(c.dt, {n, c.d}), gw = cuda::device_alloc(c.dt, {c.d});
    if (!c.fits) {
      test::expect_error([&] { cuda::rmsnorm({gx, Tensor(), gw, gx, 1e-5f}, nullptr); }, {"cuda rmsnorm", "exceed"});
      continue;
    }
    const std::vector<float> x = round_to(normal_vec(n * c.d, 31), c.dt), r = round_to(normal_vec(n * c.d, 32), c.dt);
    const std::vector<float> w = round_to(normal_vec(c.d, 33, 1.0f), c.dt);
    const auto [xr, ref] = norm_reference(x.data(), &r, w, n, c.d, c.dt);
    gx = upload(x, c.dt, {n, c.d});
    gw = upload(w, c.dt, {c.d});
    Tensor gr = upload(r, c.dt, {n, c.d});
    cuda::rmsnorm({gx, gr, gw, gr, 1e-5f}, nullptr);
    EXPECT_LT(rel_error(download(gr), ref), test::tolerance(c.dt)) << dtype_name(c.dt) << " d " << c.d;
    EXPECT_LT(rel_error(download(gx), xr), test::tolerance(c.dt)) << dtype_name(c.dt) << " d " << c.d;
  }
}

// 100: 16-byte accesses for f32 only; 1001 and 8191: element-wise for every dtype (8191: the
// 1024-thread, 8-per-thread fallback at its widest); 128, 1000, 8192: 16-byte accesses.
INSTANTIATE_TEST_SUITE_P(AllDtypes, CudaRmsNorm,
                         ::testing::Combine(::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                                            ::testing::Values<int64_t>(100, 128, 1000, 1001, 8191, 8192),
                                            ::testing::Bool()));

}  // namespace
}  // namespace gqa
