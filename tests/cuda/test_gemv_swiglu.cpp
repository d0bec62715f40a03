// The decode GEMV with the opt-in SwiGLU epilogue (kernels/cuda/gemv.h: gemv_swiglu) against
// SiLU(gate) * up of an fp64 reference product on random inputs rounded to the dtype, bf16 and
// f16, n in {1, 2, 3, 8}; outputs poisoned first, ||out - ref|| / ||ref|| < 1e-2. A test executable
// of its own: an opt-in kernel that fails on its first GPU run leaves test_gemv.cpp unaffected.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/gemv.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/cuda/gemv_test_util.h"

namespace gqa {
namespace {

using test::download;
using test::rel_error;
using test::upload;

using namespace test::gemv;  // reference, swiglu_of, input, poisoned, kTol

class CudaGemvSwiglu : public DtypeTest {};

// f not a multiple of a block's outputs, k from one chunk to a row of 8192; then the refusals.
TEST_P(CudaGemvSwiglu, MatchesReference) {
  const std::pair<int64_t, int64_t> shapes[] = {{1, 8}, {37, 64}, {500, 1024}, {3584, 8192}, {129, 4104}};
  uint32_t seed = 300;
  for (int64_t n : {1, 2, 3, 8}) {
    for (const auto& [f, k] : shapes) {
      const std::vector<float> x = input(n * k, seed++, dt_), w = input(2 * f * k, seed++, dt_);
      const std::vector<float> ref = swiglu_of(reference(x, w, nullptr, n, 2 * f, k), n, f);
      Tensor gx = upload(x, dt_, {n, k}), gw = upload(w, dt_, {2 * f, k}), act = poisoned(dt_, {n, f});
      ASSERT_TRUE(cuda::gemv_swiglu_supported(gx, gw, act)) << "n " << n << " f " << f << " k " << k;
      cuda::gemv_swiglu(gx, gw, act, nullptr);
      EXPECT_LT(rel_error(download(act), ref), kTol) << "n " << n << " f " << f << " k " << k;
    }
  }
  // Every launch the benchmarks' tuning can force (gemv.h: warps per row group, the deep step, no
  // register budget).
  for (int64_t n : {1, 2, 3}) {
    const int64_t f = 300, k = 4104;
    const std::vector<float> x = input(n * k, seed++, dt_), w = input(2 * f * k, seed++, dt_);
    const std::vector<float> ref = swiglu_of(reference(x, w, nullptr, n, 2 * f, k), n, f);
    Tensor gx = upload(x, dt_, {n, k}), gw = upload(w, dt_, {2 * f, k});
    for (int g : {1, 2, 4, 8}) {
      for (const TunedLaunch& t : tuned_launches(g)) {
        const cuda::ScopedGemvTuning tune(t.tune);
        Tensor act = poisoned(dt_, {n, f});
        cuda::gemv_swiglu(gx, gw, act, nullptr);
        EXPECT_LT(rel_error(download(act), ref), kTol) << "n " << n << " group_warps " << g << t.label;
      }
    }
  }
  // Refused: act not [n, w.dim(0) / 2], too many rows, overlap.
  Tensor gx = upload(input(4 * 64, 1, dt_), dt_, {4, 64}), gw = upload(input(2 * 40 * 64, 2, dt_), dt_, {80, 64});
  EXPECT_FALSE(cuda::gemv_swiglu_supported(gx, gw, poisoned(dt_, {4, 41})));
  EXPECT_FALSE(cuda::gemv_swiglu_supported(upload(input(9 * 64, 3, dt_), dt_, {9, 64}), gw, poisoned(dt_, {9, 40})));
  EXPECT_THROW(cuda::gemv_swiglu(gx, gw, poisoned(dt_, {4, 41}), nullptr), Error);
  EXPECT_THROW(cuda::gemv_swiglu(gx, gw, Tensor::view(gw.data(), dt_, {4, 40}, Device::kCuda), nullptr), Error);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaGemvSwiglu, ::testing::Values(DType::kBF16, DType::kF16), dtype_param_name);

}  // namespace
}  // namespace gqa
