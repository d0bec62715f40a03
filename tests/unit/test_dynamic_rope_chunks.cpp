// Dynamic NTK rope computes its table from the furthest position of a forward (transformers), so a
// prompt longer than max_position_embeddings prefilled in chunks must still get the one table of
// the whole prompt (StepInput::rope_through), as transformers' generate, which prefills in one
// forward: the logits must not depend on --prefill-chunk. (Per-chunk tables differed by ~1e-2 here;
// with one chunk gqa matches transformers at 2K-32K positions to ~5e-7: a long-context check
// against transformers outside the suite.)
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_ops.h"
#include "parallel/single_communicator.h"
#include "tests/support/model_fixture.h"

namespace gqa {
namespace {

double rel_err(const std::vector<float>& a, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(a[i]) - ref[i];
    num += d * d;
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return std::sqrt(num / den);
}

TEST(DynamicRopeChunks, APromptPastMaxPositionsGivesTheSameLogitsInAnyChunks) {
  const std::string dir = "tests/fixtures/models/rope_dynamic";  // max_position_embeddings 16
  const ModelConfig config = ModelConfig::from_file(dir + "/config.json");
  ASSERT_EQ(config.rope_scaling.type, RopeType::kDynamic);
  std::vector<int32_t> prompt;
  for (int i = 0; i < 3 * config.max_position_embeddings / 2; ++i) prompt.push_back(3 + (i * 7) % 50);
  const int64_t p = static_cast<int64_t>(prompt.size());
  cpu::CpuOps ops;
  SingleCommunicator comm;
  auto run = [&](int64_t chunk) {
    return test::run_generation(dir, prompt, 4, SamplingParams{}, /*keep_logits=*/true, ops, comm,
                                /*cuda_graphs=*/true, GenerateRequest{}.slice_candidates, /*block_size=*/4, chunk);
  };
  const GenerateResult whole = run(p);  // one forward over the prompt
  ASSERT_EQ(whole.logit_rows, p + 3);
  for (const int64_t chunk : {5, 7, 16}) {
    const GenerateResult chunked = run(chunk);
    ASSERT_EQ(chunked.logits.size(), whole.logits.size()) << "chunk " << chunk;
    EXPECT_LE(rel_err(chunked.logits, whole.logits), 1e-6) << "prefill chunk " << chunk;
    EXPECT_EQ(chunked.tokens, whole.tokens) << "prefill chunk " << chunk;
  }
}

}  // namespace
}  // namespace gqa
