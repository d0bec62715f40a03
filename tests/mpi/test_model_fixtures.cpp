// The whole model on the CPU backend against Hugging Face transformers: every fixture in
// tests/fixtures/models, at the job's rank count (CTest runs this under mpirun -np 1, 2 and 4).
// Greedy tokens must be identical and the logits of every position fed must match to relative
// error <= 1e-4 (||ours - ref|| / ||ref|| over all rows, fp32); and greedy generation without
// keeping logits (at T > 1: each rank's best (value, id) gathered instead of its logits) must
// give the same tokens; and seeded top-k sampling from every rank's top-k candidates, and seeded
// sampling over all ids from every rank's best candidates and slice mass, must give the tokens
// drawn from the gathered logits.
#include <gtest/gtest.h>

#include "parallel/bootstrap.h"
#include "runtime/backend.h"
#include "runtime/kv_page_size.h"
#include "tests/support/model_fixture.h"

namespace gqa {
namespace {

class ModelFixture : public ::testing::TestWithParam<std::string> {
 protected:
  // The fixture's greedy tokens and logits against transformers', on pages of block_size tokens.
  void expect_matches(int64_t block_size, const std::string& label) {
    const std::string dir = "tests/fixtures/models/" + GetParam();
    auto comm = make_communicator("auto");
    auto ops = make_backend("cpu");
    const test::FixtureReference ref = test::read_fixture_reference(dir);
    const GenerateResult res = test::run_fixture(dir, ref, *ops, *comm, /*cuda_graphs=*/true, block_size);
    const test::FixtureComparison c = test::compare_to_reference(res, ref);
    test::expect_matches_reference(c, res, ref, /*strict_tokens=*/true, 1e-4,
                                   GetParam() + " T=" + std::to_string(comm->size()) + label, comm->rank() == 0);
  }
};

TEST_P(ModelFixture, MatchesTransformers) { expect_matches(4, ""); }

// The same on pages of kDefaultKvBlockSize tokens (what gqa-generate uses unless told otherwise):
// every fixture's sequence then sits in one page.
TEST_P(ModelFixture, MatchesTransformersOnDefaultPages) { expect_matches(kDefaultKvBlockSize, " default pages"); }

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

// Seeded sampling over all ids (top_k 0) without keeping logits: at T > 1 rank 0 draws from every
// rank's best slice_candidates and its slice's mass (Model::forward_slices), gathering the row only
// for a draw those cannot decide; the same seed must give the tokens drawn from the gathered
// logits, with many candidates (draws decided from them) and with 2 (most draws gather the row).
TEST_P(ModelFixture, SamplingFromSlicesEqualsGatheredLogits) {
  const std::string dir = "tests/fixtures/models/" + GetParam();
  auto comm = make_communicator("auto");
  auto ops = make_backend("cpu");
  const test::FixtureReference ref = test::read_fixture_reference(dir);
  int64_t whole_row_draws_with_2 = 0;
  for (const SamplingParams& sp : {SamplingParams{0.8f, 0, 0.9f, 7}, SamplingParams{1.3f, 0, 1.0f, 3}}) {
    const GenerateResult kept = test::run_generation(dir, ref.prompt, 12, sp, /*keep_logits=*/true, *ops, *comm);
    for (int64_t per_rank : {int64_t{256}, int64_t{2}}) {
      const GenerateResult drawn =
          test::run_generation(dir, ref.prompt, 12, sp, /*keep_logits=*/false, *ops, *comm, true, per_rank);
      EXPECT_EQ(drawn.tokens, kept.tokens) << GetParam() << " T=" << comm->size() << " top_p " << sp.top_p
                                           << " slice_candidates " << per_rank;
      EXPECT_EQ(drawn.logit_rows, 0);
      if (per_rank == 2) whole_row_draws_with_2 += drawn.whole_row_draws;
    }
  }
  if (comm->size() > 1) {
    EXPECT_GT(whole_row_draws_with_2, 0) << "two candidates per rank leave some draws to the gathered row";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelFixture, ::testing::ValuesIn(test::fixture_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace gqa
