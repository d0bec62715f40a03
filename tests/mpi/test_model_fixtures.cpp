// The whole model on the CPU backend against Hugging Face transformers: every fixture in
// tests/fixtures/models, at the job's rank count (CTest runs this under mpirun -np 1, 2 and 4).
// Greedy tokens must be identical and the logits of every position fed must match to relative
// error <= 1e-4 (||ours - ref|| / ||ref|| over all rows, fp32); and greedy generation without
// keeping logits (at T > 1: each rank's best (value, id) gathered instead of its logits) must
// give the same tokens.
#include <gtest/gtest.h>

#include "parallel/bootstrap.h"
#include "runtime/backend.h"
#include "tests/support/model_fixture.h"

namespace gqa {
namespace {

class ModelFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelFixture, MatchesTransformers) {
  const std::string dir = "tests/fixtures/models/" + GetParam();
  auto comm = make_communicator("auto");
  auto ops = make_backend("cpu");
  const test::FixtureReference ref = test::read_fixture_reference(dir);
  const GenerateResult res = test::run_fixture(dir, ref, *ops, *comm);
  const test::FixtureComparison c = test::compare_to_reference(res, ref);
  test::expect_matches_reference(c, res, ref, /*strict_tokens=*/true, 1e-4,
                                 GetParam() + " T=" + std::to_string(comm->size()), comm->rank() == 0);
}

// Greedy without keeping logits: at T > 1 each rank sends its slice's best (value, id) instead of
// the slice (Model::forward_sample); the tokens must be the reference's, as with the logits kept.
TEST_P(ModelFixture, GreedyWithoutGatheringLogits) {
  const std::string dir = "tests/fixtures/models/" + GetParam();
  auto comm = make_communicator("auto");
  auto ops = make_backend("cpu");
  const test::FixtureReference ref = test::read_fixture_reference(dir);
  const GenerateResult res = test::run_generation(dir, ref.prompt, static_cast<int64_t>(ref.generated.size()),
                                                  SamplingParams{}, /*keep_logits=*/false, *ops, *comm);
  EXPECT_EQ(res.tokens, ref.generated) << GetParam() << " T=" << comm->size();
  EXPECT_EQ(res.logit_rows, 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelFixture, ::testing::ValuesIn(test::fixture_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace gqa
