// The decode-step GEMM (kernels/cuda/gemv.h) against an fp64 CPU reference on random inputs
// rounded to the dtype, bf16 and f16: called directly for n in {1, 2, 3, 5, 8} over shapes whose
// m is no multiple of a block's rows and whose k is 8, 64, 1024, 4104 or 8192; then through
// Gemm::run (the integrated path: bias, row slices, n = 9 left to gemv_mma or cuBLAS and a
// misaligned x to cuBLAS, the same result as cuBLAS), NaN propagation, PDL and a CUDA graph;
// and every launch the benchmarks' tuning can force (gemv_tuning).
// (Its opt-in SwiGLU-epilogue form has its own executable: test_gemv_swiglu.cpp.)
// Outputs are poisoned with 0xff bytes (NaN) first; the check is ||out - ref|| / ||ref|| < 1e-2
// (a NaN never passes).
#include <gtest/gtest.h>

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

class CudaGemv : public DtypeTest {};

TEST_P(CudaGemv, MatchesReference) {
  // (m, k): m 1, 37, 33, 1000, 130, 300, 77, 1280 (no multiple of 32 rows but the last); k from
  // one chunk (8) to a row of 8192, and 4104 (a last step with a single chunk for some lanes).
  expect_gemv_matches_reference(
      dt_, {1, 2, 3, 5, 8}, {{1, 8}, {37, 8}, {33, 64}, {1000, 64}, {130, 1024}, {300, 4104}, {77, 8192}, {1280, 8192}},
      100, cuda::gemv_supported, run_gemv);
}

TEST_P(CudaGemv, SupportedOnlyForItsShapes) {
  const int64_t k = 64, m = 40;
  Tensor w = poisoned(dt_, {m, k});
  Tensor buf = poisoned(dt_, {2 * 9, k});  // room for x of up to 9 rows at an offset
  auto x_rows = [&](int64_t n) { return buf.slice_rows(0, n); };
  EXPECT_TRUE(cuda::gemv_supported(x_rows(1), w, poisoned(dt_, {1, m})));
  EXPECT_TRUE(cuda::gemv_supported(x_rows(8), w, poisoned(dt_, {8, m})));
  EXPECT_FALSE(cuda::gemv_supported(x_rows(9), w, poisoned(dt_, {9, m}))) << "n > kGemvMaxRows";
  // x 2 bytes past a 16-byte boundary.
  Tensor x_odd = Tensor::view(static_cast<char*>(buf.data()) + 2, dt_, {3, k}, Device::kCuda);
  EXPECT_FALSE(cuda::gemv_supported(x_odd, w, poisoned(dt_, {3, m}))) << "misaligned x";
  Tensor w12 = poisoned(dt_, {m, 12});
  EXPECT_FALSE(cuda::gemv_supported(poisoned(dt_, {2, 12}), w12, poisoned(dt_, {2, m}))) << "k % 8 != 0";
  EXPECT_FALSE(cuda::gemv_supported(poisoned(DType::kF32, {2, k}), poisoned(DType::kF32, {m, k}),
                                    poisoned(DType::kF32, {2, m})))
      << "f32";
  EXPECT_FALSE(cuda::gemv_supported(x_rows(2), w, poisoned(DType::kF32, {2, m}))) << "mixed dtypes";
  EXPECT_FALSE(cuda::gemv_supported(x_rows(2), w, poisoned(dt_, {2, m + 1}))) << "y shape";
  EXPECT_THROW(cuda::gemv(x_rows(9), w, poisoned(dt_, {9, m}), nullptr), Error);
  EXPECT_THROW(cuda::gemv(x_odd, w, poisoned(dt_, {3, m}), nullptr), Error);
  Tensor xy = poisoned(dt_, {2, k});
  Tensor w_sq = poisoned(dt_, {k, k});
  EXPECT_THROW(cuda::gemv(xy, w_sq, xy, nullptr), Error) << "y overlapping x";
}

// Through Gemm::run: bias added after the kernel, x and y as row slices (y 2-byte aligned), n = 9
// going past gemv (to gemv_mma.h's kernel where switched on, else cuBLAS) and a misaligned x
// falling back to cuBLAS, and the gemv result close to cuBLAS's own.
TEST_P(CudaGemv, ThroughGemmRun) {
  const GemmRunCase cases[] = {{1, 256, 384, true, 0, false}, {4, 1024, 130, true, 1, false},
                               {8, 4096, 257, true, 0, true},  {3, 72, 21, true, 1, true},
                               {9, 512, 300, true, 0, false},  {9, 64, 21, false, 2, true},
                               {5, 8192, 33, false, 0, false}};
  cuda::Gemm gemm;
  cuda::Gemm cublas_only;
  cublas_only.set_use_gemv(false);
  uint32_t seed = 500;
  for (const GemmRunCase& c : cases) {
    const GemmRunInputs in = gemm_run_inputs(c, dt_, seed);
    EXPECT_EQ(cuda::gemv_supported(in.x, in.w, in.y), c.n <= cuda::kGemvMaxRows);
    expect_gemm_run_matches(gemm, cublas_only, c, in);
  }
  // A 2-byte-aligned x (not gemv's) through the integrated path: cuBLAS serves it.
  const int64_t n = 3, k = 64, m = 50;
  const std::vector<float> x_all = input(n * k + 1, seed++, dt_), w = input(m * k, seed++, dt_);
  const std::vector<float> x(x_all.begin() + 1, x_all.end());
  Tensor gx_all = upload(x_all, dt_, {n * k + 1});
  Tensor gx = Tensor::view(static_cast<char*>(gx_all.data()) + 2, dt_, {n, k}, Device::kCuda);
  Tensor gw = upload(w, dt_, {m, k}), y = poisoned(dt_, {n, m});
  ASSERT_FALSE(cuda::gemv_supported(gx, gw, y));
  gemm.run({gx, gw, Tensor(), y}, nullptr);
  EXPECT_LT(rel_error(download(y), reference(x, w, nullptr, n, m, k)), kTol) << "misaligned x";
}

// A NaN in row i of x makes all of y's row i NaN and leaves the other rows right; a NaN in row j
// of W makes column j NaN in every row.
TEST_P(CudaGemv, NanPropagates) {
  const int64_t n = 5, k = 4096 + 8, m = 70;
  std::vector<float> x = input(n * k, 900, dt_), w = input(m * k, 901, dt_);
  const std::vector<float> clean = reference(x, w, nullptr, n, m, k);
  x[2 * k + 4099] = std::numeric_limits<float>::quiet_NaN();
  w[45 * k + 7] = std::numeric_limits<float>::quiet_NaN();
  Tensor y = poisoned(dt_, {n, m});
  cuda::gemv(upload(x, dt_, {n, k}), upload(w, dt_, {m, k}), y, nullptr);
  expect_nan_row_and_column(download(y), clean, n, m, 2, 45);
}

// With PDL on, and recorded into a CUDA graph on a stream of its own.
TEST_P(CudaGemv, PdlAndGraph) {
  cuda::Gemm gemm;
  expect_gemm_pdl_and_graph_on_random(gemm, dt_, /*n=*/2, /*k=*/2048, /*m=*/515, /*seed=*/1000);
}

// Every launch gemv_tuning() can force (benchmarks' sweep): 1, 2, 4, 8 warps per row group and
// the plan's, each with the default, (n <= 2) the deep step and (n <= 2) the build without a
// register budget, on shapes from one chunk per row to the 70B shard's QKV.
TEST_P(CudaGemv, EveryTunedLaunchMatches) {
  const std::pair<int64_t, int64_t> shapes[] = {{37, 8}, {33, 1024}, {300, 4104}, {1280, 8192}};
  uint32_t seed = 400;
  for (int64_t n : {1, 2, 3}) {
    for (const auto& [m, k] : shapes) {
      const std::vector<float> x = input(n * k, seed++, dt_), w = input(m * k, seed++, dt_);
      const std::vector<float> ref = reference(x, w, nullptr, n, m, k);
      Tensor gx = upload(x, dt_, {n, k}), gw = upload(w, dt_, {m, k});
      for (int g : {0, 1, 2, 4, 8}) {
        for (const TunedLaunch& t : tuned_launches(g)) {
          const cuda::ScopedGemvTuning tune(t.tune);
          Tensor gy = poisoned(dt_, {n, m});
          cuda::gemv(gx, gw, gy, nullptr);
          EXPECT_LT(rel_error(download(gy), ref), kTol)
              << "n " << n << " m " << m << " k " << k << " group_warps " << g << t.label;
        }
      }
    }
  }
  EXPECT_THROW(cuda::set_gemv_tuning({3, false}), Error);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaGemv, ::testing::Values(DType::kBF16, DType::kF16), dtype_param_name);

}  // namespace
}  // namespace gqa
