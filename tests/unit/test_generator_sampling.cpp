// Generator at T = 1: without kept logits the backend draws each token where the logits are
// (Model::forward_sample -> Ops::sample_rows); with kept logits they are gathered and the host
// Sampler draws it. Both take the Sampler's random stream and the reference math, so the tokens
// must be identical for greedy and for seeded sampling, and greedy equals transformers'.
#include <gtest/gtest.h>

#include "kernels/cpu/cpu_ops.h"
#include "parallel/single_communicator.h"
#include "tests/support/model_fixture.h"

namespace gqa {
namespace {

struct Mode {
  const char* name;
  SamplingParams sampling;
};

TEST(GeneratorSampling, BackendSamplingEqualsHostSampling) {
  const Mode modes[] = {{"greedy", {0.0f, 0, 1.0f, 0}},
                        {"t0.9 k50 p0.9", {0.9f, 50, 0.9f, 7}},
                        {"t1.5", {1.5f, 0, 1.0f, 3}},
                        {"t0.7 p0.5", {0.7f, 0, 0.5f, 11}}};
  for (const char* name : {"gqa", "mqa", "qwen2_bias"}) {
    const std::string dir = std::string("tests/fixtures/models/") + name;
    const test::FixtureReference ref = test::read_fixture_reference(dir);
    for (const Mode& m : modes) {
      cpu::CpuOps ops;
      SingleCommunicator comm;
      const GenerateResult host = test::run_generation(dir, ref.prompt, 24, m.sampling, /*keep_logits=*/true, ops, comm);
      const GenerateResult backend =
          test::run_generation(dir, ref.prompt, 24, m.sampling, /*keep_logits=*/false, ops, comm);
      EXPECT_EQ(backend.tokens, host.tokens) << name << ", " << m.name;
      EXPECT_TRUE(backend.logits.empty()) << name << ", " << m.name;
      if (m.sampling.temperature == 0.0f) {
        const std::vector<int32_t> want(ref.generated.begin(),
                                        ref.generated.begin() + std::min<size_t>(ref.generated.size(), 24));
        EXPECT_EQ(std::vector<int32_t>(backend.tokens.begin(), backend.tokens.begin() + want.size()), want) << name;
      }
    }
  }
}

// A sampled run draws different tokens from a greedy one (the modes above are not all argmax).
TEST(GeneratorSampling, SeededSamplingDiffersFromGreedyAndRepeats) {
  const std::string dir = "tests/fixtures/models/gqa";
  const test::FixtureReference ref = test::read_fixture_reference(dir);
  cpu::CpuOps ops;
  SingleCommunicator comm;
  const SamplingParams hot{1.5f, 0, 1.0f, 3};
  const GenerateResult a = test::run_generation(dir, ref.prompt, 24, hot, false, ops, comm);
  const GenerateResult b = test::run_generation(dir, ref.prompt, 24, hot, false, ops, comm);
  const GenerateResult g = test::run_generation(dir, ref.prompt, 24, SamplingParams{}, false, ops, comm);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_NE(a.tokens, g.tokens);
}

}  // namespace
}  // namespace gqa
