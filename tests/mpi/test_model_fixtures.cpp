// The whole model on the CPU backend against Hugging Face transformers: every fixture in
// tests/fixtures/models, at the job's rank count (CTest runs this under mpirun -np 1, 2 and 4).
// Greedy tokens must be identical and the logits of every position fed must match to relative
// error <= 1e-4 (||ours - ref|| / ||ref|| over all rows, fp32); and greedy generation without
// keeping logits (at T > 1: each rank's best (value, id) gathered instead of its logits) must
// give the same tokens; and seeded top-k sampling from every rank's top-k candidates must give the
// tokens drawn from the gathered logits.
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

// Seeded top-k sampling without keeping logits: at T > 1 rank 0 draws from every rank's top-k
// candidates (Model::forward_top_k) instead of the gathered row; the same seed must give the same
// tokens as drawing from the gathered logits (keep_logits).
TEST_P(ModelFixture, TopKSamplingFromCandidatesEqualsGatheredLogits) {
  const std::string dir = "tests/fixtures/models/" + GetParam();
  auto comm = make_communicator("auto");
  auto ops = make_backend("cpu");
  const test::FixtureReference ref = test::read_fixture_reference(dir);
  for (const SamplingParams& sp : {SamplingParams{0.8f, 5, 0.9f, 7}, SamplingParams{1.3f, 40, 1.0f, 3}}) {
    const GenerateResult kept = test::run_generation(dir, ref.prompt, 12, sp, /*keep_logits=*/true, *ops, *comm);
    const GenerateResult drawn = test::run_generation(dir, ref.prompt, 12, sp, /*keep_logits=*/false, *ops, *comm);
    EXPECT_EQ(drawn.tokens, kept.tokens) << GetParam() << " T=" << comm->size() << " top_k " << sp.top_k;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelFixture, ::testing::ValuesIn(test::fixture_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace gqa
