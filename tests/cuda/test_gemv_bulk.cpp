// The decode GEMVs' bulk-copy build, the default where it serves (kernels/cuda/gemv.h:
// GemvTuning::bulk, GQA_GEMV_BULK; W rows copied into shared memory by cp.async.bulk) against the fp64 reference on random inputs
// rounded to the dtype, bf16 and f16: the plain GEMV and the SwiGLU epilogue at n = 1 .. 8 on
// shapes from one chunk per row to the 70B shard's QKV, O, gate/up and down projections, rows not a
// multiple of a block's; a k whose row group passes kGemvBulkMaxBytes takes the per-thread loads
// (still right); Gemm::run with the switch under PDL and in a CUDA graph. Outputs poisoned first;
// ||out - ref|| / ||ref|| < 1e-2. The RoPE epilogue's bulk build: test_gemv_rope.cpp. A test
// executable of its own: a build that fails on a GPU leaves test_gemv.cpp
// unaffected.
#include <gtest/gtest.h>

#include <cstdint>
#include <utility>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/gemv.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/cuda/gemv_test_util.h"

namespace gqa {
namespace {

using namespace test::gemv;  // DtypeTest, expect_gemv_matches_reference, expect_gemv_swiglu_matches_reference, ...

class CudaGemvBulk : public DtypeTest {};

const cuda::GemvTuning kBulk{.bulk = true};

TEST_P(CudaGemvBulk, PlainAndSwigluMatchReference) {
  const cuda::ScopedGemvTuning tune(kBulk);
  expect_gemv_build_matches_reference(dt_);
}

// At the shared-memory limit (a block's row group of R rows of k fills exactly kGemvBulkMaxBytes:
// R = 2 rows at n <= 2, 4 at n >= 3) and one chunk past it, where the per-thread build takes over.
TEST_P(CudaGemvBulk, RowGroupsAtAndPastTheSharedMemoryLimit) {
  const int64_t m = 37;
  uint32_t seed = 400;
  const cuda::ScopedGemvTuning tune(kBulk);
  for (const auto& [n, rows] : {std::pair<int64_t, int64_t>{1, 2}, {2, 2}, {3, 4}, {8, 4}}) {
    const int64_t at = cuda::kGemvBulkMaxBytes / (rows * static_cast<int64_t>(dtype_size(dt_)));
    expect_gemv_matches_reference(dt_, {n}, {{m, at}, {m, at + 8}}, seed, cuda::gemv_supported, run_gemv);
    seed += 4;  // (two seeds a case)
  }
}

// Through Gemm::run (the model's path) with the process switch, with PDL off and on, directly and
// replayed from a CUDA graph.
TEST_P(CudaGemvBulk, PdlAndGraph) {
  const cuda::ScopedSwitch on(cuda::gemv_bulk_enabled, cuda::set_gemv_bulk, true);
  cuda::Gemm gemm;
  expect_gemm_pdl_and_graph_on_random(gemm, dt_, /*n=*/1, /*k=*/4096, /*m=*/515, /*seed=*/500);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaGemvBulk, ::testing::Values(DType::kBF16, DType::kF16), dtype_param_name);

}  // namespace
}  // namespace gqa
