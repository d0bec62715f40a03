// The whole model on the CPU backend against transformers at a long context (the long fixture,
// tests/support/model_fixture.h: a 4096-token prompt, llama3 rope scaling past its original 1024
// positions), at the job's rank count (CTest: mpirun -np 1, 2 and 4). The prompt is prefilled in
// many chunks over many KV pages, two ways; the greedy tokens must be transformers' and the stored
// logit rows must match to relative error <= 1e-4 (f32), as the tiny fixtures' rows do.
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "parallel/bootstrap.h"
#include "runtime/backend.h"
#include "tests/support/model_fixture.h"

namespace gqa {
namespace {

class LongContext : public ::testing::TestWithParam<std::pair<int64_t, int64_t>> {};  // (prefill chunk, page size)

TEST_P(LongContext, MatchesTransformers) {
  const auto [chunk, block_size] = GetParam();
  const test::FixtureReference ref = test::read_fixture_reference(test::kLongFixtureDir);
  auto comm = make_communicator("auto");
  auto ops = make_backend("cpu");
  const GenerateResult res =
      test::run_fixture(test::kLongFixtureDir, ref, *ops, *comm, /*cuda_graphs=*/true, block_size, chunk);
  test::expect_matches_reference(test::compare_to_reference(res, ref), res, ref, /*strict_tokens=*/true, 1e-4,
                                 "long T=" + std::to_string(comm->size()) + " chunk " + std::to_string(chunk) +
                                     " pages " + std::to_string(block_size),
                                 comm->rank() == 0);
}

// An odd chunk on small pages (chunks and pages never align), and the cpu backend's default chunk
// on gqa-generate's default pages.
INSTANTIATE_TEST_SUITE_P(ChunksAndPages, LongContext,
                         ::testing::Values(std::pair<int64_t, int64_t>{777, 16}, std::pair<int64_t, int64_t>{512, 256}),
                         [](const auto& info) {
                           return "chunk" + std::to_string(info.param.first) + "_pages" +
                                  std::to_string(info.param.second);
                         });

}  // namespace
}  // namespace gqa
