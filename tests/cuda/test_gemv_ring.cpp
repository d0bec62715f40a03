// The decode GEMVs' opt-in ring build (kernels/cuda/gemv.h: GemvTuning::ring, GQA_GEMV_RING;
// gemv_ring.cuh: W rows by cp.async.bulk through a ring of shared-memory stages in a grid of
// resident blocks) against the fp64 reference on random inputs rounded to the dtype, bf16 and f16:
// the plain GEMV and the SwiGLU epilogue at n = 1 .. 8, on shapes from one chunk per row to the 70B
// shard's QKV, O, gate/up, down and LM head (thousands of units: every block goes round its ring
// many times, and the units do not divide evenly over the blocks), and a k whose stages the ring
// cannot hold (the bulk or per-thread build then serves: still right); Gemm::run with the switch
// under PDL and in a CUDA graph. Outputs poisoned first; ||out - ref|| / ||ref|| < 1e-2. The RoPE
// epilogue's and the norm prologue's ring builds: test_gemv_rope.cpp, test_gemv_norm.cpp. A test
// executable of its own: a build that fails on its first GPU run leaves the others unaffected.
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

class CudaGemvRing : public DtypeTest {};

const cuda::GemvTuning kRing{.ring = true};

TEST_P(CudaGemvRing, PlainAndSwigluMatchReference) {
  const cuda::ScopedGemvTuning tune(kRing);
  expect_gemv_build_matches_reference(dt_);
}

// The LM head's shape (8016 units at n = 1) and the 70B shard's O: many rounds of every ring.
TEST_P(CudaGemvRing, ManyRoundsOfTheRing) {
  const cuda::ScopedGemvTuning tune(kRing);
  expect_gemv_matches_reference(dt_, {1, 2}, {{16032, 8192}, {8192, 3584}, {8193, 1024}}, 200, cuda::gemv_supported,
                                run_gemv);
}

// Through Gemm::run (the model's path) with the process switch, with PDL off and on, directly and
// replayed from a CUDA graph.
TEST_P(CudaGemvRing, PdlAndGraph) {
  const cuda::ScopedSwitch on(cuda::gemv_ring_enabled, cuda::set_gemv_ring, true);
  cuda::Gemm gemm;
  expect_gemm_pdl_and_graph_on_random(gemm, dt_, /*n=*/1, /*k=*/4096, /*m=*/5150, /*seed=*/500);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaGemvRing, ::testing::Values(DType::kBF16, DType::kF16), dtype_param_name);

}  // namespace
}  // namespace gqa
