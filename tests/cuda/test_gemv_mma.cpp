// The tensor-core decode-step GEMM (kernels/cuda/gemv_mma.h) against an fp64 CPU reference on
// random inputs rounded to the dtype, bf16 and f16: called directly for n in {9, 12, 16} over
// shapes whose m is no multiple of 16 (but the last) and whose k is 8, 64, 1024, 4104 (a last,
// partial 32-element chunk) or 8192, and with two m-tiles per warp (m = 4200); then through Gemm::run (bias,
// row slices, n = 8 to gemv and n = 17 to cuBLAS, the same result as cuBLAS), NaN propagation,
// PDL and a CUDA graph. Outputs are poisoned with 0xff bytes (NaN) first; the check is
// ||out - ref|| / ||ref|| < 1e-2 (a NaN never passes).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/gemv_mma.h"
#include "kernels/cuda/pdl.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/cuda/gemv_test_util.h"

namespace gqa {
namespace {

using test::download;
using test::rel_error;
using test::round_to;
using test::upload;

using namespace test::gemv;  // reference, input, poisoned, kTol, expect_gemm_pdl_and_graph

// Gemm::run takes gemv_mma only where it is switched on (opt-in until verified on a GPU): on for
// every test here, as it was before.
class CudaGemvMma : public DtypeTest {
 protected:
  const cuda::ScopedSwitch on_{cuda::gemv_mma_enabled, cuda::set_gemv_mma, true};
};

TEST_P(CudaGemvMma, MatchesReference) {
  // (m, k): m 16, 37, 33, 130, 300, 77, 1280 (partial last m-tiles but 16 and 1280); k from one
  // 16-byte vector (8) to a row of 8192, and 4104 (a last chunk of a single vector). All run one
  // m-tile per warp (TwoTilesPerWarp covers the other choice).
  expect_gemv_matches_reference(
      dt_, {9, 12, 16}, {{16, 8}, {37, 8}, {33, 64}, {130, 1024}, {300, 4104}, {77, 8192}, {1280, 8192}}, 100,
      cuda::gemv_mma_supported,
      [](const Tensor& x, const Tensor& w, const Tensor& y) { cuda::gemv_mma(x, w, y, nullptr); });
}

// m = 4200 (263 m-tiles, the last half full) and n * k * 2 bytes of x past 128 KiB: two m-tiles
// per warp, the last warp's second m-tile wholly past m. k = 8184: a last chunk of three vectors.
// The reference covers every 5th column and the last 40 (the CPU cost of all 4200 is too high).
TEST_P(CudaGemvMma, TwoTilesPerWarp) {
  const int64_t m = 4200, k = 8184;
  std::vector<int64_t> cols;
  for (int64_t j = 0; j < m; ++j) {
    if (j % 5 == 0 || j >= m - 40) cols.push_back(j);
  }
  uint32_t seed = 300;
  const std::vector<float> w = input(m * k, seed++, dt_);
  std::vector<float> w_cols;  // the sampled rows of W
  for (int64_t j : cols) w_cols.insert(w_cols.end(), w.begin() + j * k, w.begin() + (j + 1) * k);
  Tensor gw = upload(w, dt_, {m, k});
  for (int64_t n : {9, 16}) {
    const std::vector<float> x = input(n * k, seed++, dt_);
    const std::vector<float> ref = reference(x, w_cols, nullptr, n, static_cast<int64_t>(cols.size()), k);
    Tensor gx = upload(x, dt_, {n, k}), gy = poisoned(dt_, {n, m});
    cuda::gemv_mma(gx, gw, gy, nullptr);
    const std::vector<float> all = download(gy);
    std::vector<float> got;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j : cols) got.push_back(all[i * m + j]);
    }
    EXPECT_LT(rel_error(got, ref), kTol) << "n " << n;
    bool any_nan = false;  // the unchecked columns were written too
    for (float v : all) any_nan = any_nan || std::isnan(v);
    EXPECT_FALSE(any_nan) << "n " << n;
  }
}

TEST_P(CudaGemvMma, SupportedOnlyForItsShapes) {
  const int64_t k = 64, m = 40;
  Tensor w = poisoned(dt_, {m, k});
  Tensor buf = poisoned(dt_, {2 * 17, k});  // room for x of up to 17 rows at an offset
  auto x_rows = [&](int64_t n) { return buf.slice_rows(0, n); };
  EXPECT_FALSE(cuda::gemv_mma_supported(x_rows(8), w, poisoned(dt_, {8, m}))) << "n < kGemvMmaMinRows";
  EXPECT_TRUE(cuda::gemv_mma_supported(x_rows(9), w, poisoned(dt_, {9, m})));
  EXPECT_TRUE(cuda::gemv_mma_supported(x_rows(16), w, poisoned(dt_, {16, m})));
  EXPECT_TRUE(cuda::gemv_mma_supported(buf.slice_rows(3, 15), w, poisoned(dt_, {12, m}))) << "row slice";
  EXPECT_FALSE(cuda::gemv_mma_supported(x_rows(17), w, poisoned(dt_, {17, m}))) << "n > kGemvMmaMaxRows";
  // x 2 bytes past a 16-byte boundary.
  Tensor x_odd = Tensor::view(static_cast<char*>(buf.data()) + 2, dt_, {10, k}, Device::kCuda);
  EXPECT_FALSE(cuda::gemv_mma_supported(x_odd, w, poisoned(dt_, {10, m}))) << "misaligned x";
  Tensor w_odd = Tensor::view(static_cast<char*>(buf.data()) + 2, dt_, {m / 4, k}, Device::kCuda);
  EXPECT_FALSE(cuda::gemv_mma_supported(poisoned(dt_, {10, k}), w_odd, poisoned(dt_, {10, m / 4}))) << "misaligned w";
  Tensor w12 = poisoned(dt_, {m, 12});
  EXPECT_FALSE(cuda::gemv_mma_supported(poisoned(dt_, {10, 12}), w12, poisoned(dt_, {10, m}))) << "k % 8 != 0";
  EXPECT_FALSE(cuda::gemv_mma_supported(poisoned(DType::kF32, {10, k}), poisoned(DType::kF32, {m, k}),
                                        poisoned(DType::kF32, {10, m})))
      << "f32";
  EXPECT_FALSE(cuda::gemv_mma_supported(x_rows(10), w, poisoned(DType::kF32, {10, m}))) << "mixed dtypes";
  EXPECT_FALSE(cuda::gemv_mma_supported(x_rows(10), w, poisoned(dt_, {10, m + 1}))) << "y shape";
  EXPECT_FALSE(cuda::gemv_mma_supported(x_rows(10), w, Tensor())) << "undefined y";
  EXPECT_THROW(cuda::gemv_mma(x_rows(17), w, poisoned(dt_, {17, m}), nullptr), Error);
  EXPECT_THROW(cuda::gemv_mma(x_rows(8), w, poisoned(dt_, {8, m}), nullptr), Error);
  EXPECT_THROW(cuda::gemv_mma(x_odd, w, poisoned(dt_, {10, m}), nullptr), Error);
  Tensor xy = poisoned(dt_, {10, k});
  Tensor w_sq = poisoned(dt_, {k, k});
  Tensor y_in_w = w_sq.slice_rows(0, 10);  // y [10, 64] inside w [64, 64]
  EXPECT_THROW(cuda::gemv_mma(xy, w_sq, xy, nullptr), Error) << "y overlapping x";
  EXPECT_THROW(cuda::gemv_mma(poisoned(dt_, {10, k}), w_sq, y_in_w, nullptr), Error) << "y overlapping w";
}

// Through Gemm::run: bias added after the kernel, x and y as row slices (y 2-byte aligned), n = 8
// to gemv and n = 17 to cuBLAS, and the gemv_mma result close to cuBLAS's own.
TEST_P(CudaGemvMma, ThroughGemmRun) {
  const GemmRunCase cases[] = {{9, 256, 384, true, 0, false},  {12, 1024, 130, true, 1, false},
                               {16, 4096, 257, true, 0, true}, {10, 72, 21, true, 1, true},
                               {16, 8192, 33, false, 0, false}, {8, 512, 300, true, 0, false},
                               {17, 512, 300, true, 0, false}, {17, 64, 21, false, 2, true}};
  cuda::Gemm gemm;
  cuda::Gemm cublas_only;
  cublas_only.set_use_gemv(false);
  uint32_t seed = 500;
  for (const GemmRunCase& c : cases) {
    const GemmRunInputs in = gemm_run_inputs(c, dt_, seed);
    const bool mma_rows = c.n >= cuda::kGemvMmaMinRows && c.n <= cuda::kGemvMmaMaxRows;
    EXPECT_EQ(cuda::gemv_mma_supported(in.x, in.w, in.y), mma_rows) << "n " << c.n;
    EXPECT_EQ(cuda::gemv_supported(in.x, in.w, in.y), c.n <= cuda::kGemvMaxRows) << "n " << c.n;
    expect_gemm_run_matches(gemm, cublas_only, c, in);
  }
}

// A NaN in row i of x makes all of y's row i NaN and leaves the other rows right (i = 3 in the
// first n-tile, then i = 10 in the second); a NaN in row j of W makes column j NaN in every row.
// k = 4104: the NaNs of x sit in the last, partial 32-element chunk.
TEST_P(CudaGemvMma, NanPropagates) {
  const int64_t n = 12, k = 4096 + 8, m = 70;
  for (int64_t nan_row : {3, 10}) {
    std::vector<float> x = input(n * k, 900, dt_), w = input(m * k, 901, dt_);
    const std::vector<float> clean = reference(x, w, nullptr, n, m, k);
    x[nan_row * k + 4099] = std::numeric_limits<float>::quiet_NaN();
    w[45 * k + 7] = std::numeric_limits<float>::quiet_NaN();
    Tensor y = poisoned(dt_, {n, m});
    cuda::gemv_mma(upload(x, dt_, {n, k}), upload(w, dt_, {m, k}), y, nullptr);
    expect_nan_row_and_column(download(y), clean, n, m, nan_row, 45);
  }
}

// With PDL on, and recorded into a CUDA graph on a stream of its own.
TEST_P(CudaGemvMma, PdlAndGraph) {
  cuda::Gemm gemm;
  expect_gemm_pdl_and_graph_on_random(gemm, dt_, /*n=*/13, /*k=*/2048, /*m=*/515, /*seed=*/1000);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaGemvMma, ::testing::Values(DType::kBF16, DType::kF16), dtype_param_name);

}  // namespace
}  // namespace gqa
