// The whole model with the CUDA backend on T = 1, 2, 4 ranks (CTest runs this under mpirun -np 1,
// 2 and 4) against the transformers fixtures:
//   --comm mpi  (MpiDeviceCommunicator: device buffers staged through host memory, so the ranks
//               may share one GPU), f32 and bf16;
//   --comm nccl (only where every rank has its own GPU), f32.
// Criteria as in tests/cuda/test_cuda_model.cpp. Also: sampling from each rank's GPU-picked
// candidates gives the gathered logits' tokens. Skips on every rank together unless every rank
// sees a GPU (this file builds without CUDA too and then always skips).
#include <gtest/gtest.h>

#include "parallel/bootstrap.h"
#include "parallel/mpi_communicator.h"
#include "runtime/backend.h"
#include "runtime/communicator_factory.h"
#include "tests/mpi/cuda_skip.h"
#include "tests/support/model_fixture.h"

namespace gqa {
namespace {

const std::string kFixtureDir = "tests/fixtures/models/";

using test::cuda_skip_reason;

class CudaModelMpi : public ::testing::TestWithParam<std::tuple<std::string, DType, std::string>> {};

TEST_P(CudaModelMpi, MatchesTransformers) {
  const auto& [name, dt, kind] = GetParam();
  MpiSession session;  // MPI is already up (mpi_main): this only reads the node-local rank
  const std::string why = cuda_skip_reason(kind, session);
  if (!why.empty()) GTEST_SKIP() << why;

  auto comm = make_communicator_for(kind, "cuda", session);
  ASSERT_EQ(comm->size(), session.world_size());
  auto ops = make_backend("cuda", session.local_rank(), dt);
  const std::string dir = kFixtureDir + name;
  const test::FixtureReference ref = test::read_fixture_reference(dir);
  const GenerateResult res = test::run_fixture(dir, ref, *ops, *comm);
  const test::FixtureComparison c = test::compare_to_reference(res, ref);
  const bool f32 = dt == DType::kF32;
  const std::string label = name + " cuda " + dtype_name(dt) + " " + comm->name() + " T=" +
                            std::to_string(comm->size());
  test::expect_matches_reference(c, res, ref, /*strict_tokens=*/f32, f32 ? 1e-3 : 3e-2, label, comm->rank() == 0);
}

// Tokens drawn without keeping logits (at T > 1 from each rank's candidates picked on its GPU,
// Ops::top_k_rows: greedy, top-k, and top_k 0 (top_p 0.9 and 1) with 256 and with 2 candidates per rank, the latter
// gathering the row for most draws) equal the tokens drawn from the gathered logits, same seed.
// f32, so the two runs' logits agree to rounding (their prefill lm_head GEMMs differ in rows).
TEST(CudaModelMpiSampling, CandidatesOnTheGpuGiveTheGatheredLogitsTokens) {
  MpiSession session;
  const std::string why = cuda_skip_reason("mpi", session);
  if (!why.empty()) GTEST_SKIP() << why;
  auto comm = make_communicator_for("mpi", "cuda", session);
  auto ops = make_backend("cuda", session.local_rank(), DType::kF32);
  for (const std::string name : {"gqa", "mqa"}) {
    const std::string dir = kFixtureDir + name;
    const test::FixtureReference ref = test::read_fixture_reference(dir);
    for (const SamplingParams& sp : {SamplingParams{}, SamplingParams{0.8f, 5, 0.9f, 7}, SamplingParams{1.3f, 0, 0.9f, 3},
                                     SamplingParams{1.1f, 0, 1.0f, 5}}) {
      const GenerateResult kept = test::run_generation(dir, ref.prompt, 12, sp, /*keep_logits=*/true, *ops, *comm);
      for (int64_t per_rank : {int64_t{256}, int64_t{2}}) {
        const GenerateResult drawn =
            test::run_generation(dir, ref.prompt, 12, sp, /*keep_logits=*/false, *ops, *comm, true, per_rank);
        EXPECT_EQ(drawn.tokens, kept.tokens) << name << " T=" << comm->size() << " temperature " << sp.temperature
                                             << " top_k " << sp.top_k << " slice_candidates " << per_rank;
      }
    }
  }
}

std::string param_name(const ::testing::TestParamInfo<CudaModelMpi::ParamType>& info) {
  return std::get<0>(info.param) + "_" + dtype_name(std::get<1>(info.param)) + "_" + std::get<2>(info.param);
}

INSTANTIATE_TEST_SUITE_P(MpiDevice, CudaModelMpi,
                         ::testing::Combine(::testing::ValuesIn(test::fixture_names()),
                                            ::testing::Values(DType::kF32, DType::kBF16),
                                            ::testing::Values(std::string("mpi"))),
                         param_name);
INSTANTIATE_TEST_SUITE_P(Nccl, CudaModelMpi,
                         ::testing::Combine(::testing::Values("gqa", "mqa", "qwen2_bias", "llama_attn_bias"),
                                            ::testing::Values(DType::kF32), ::testing::Values(std::string("nccl"))),
                         param_name);

}  // namespace
}  // namespace gqa
