// Dynamic NTK rope computes its table from the furthest position of a forward (transformers), so a
// prompt longer than max_position_embeddings prefilled in chunks must still get the one table of
// the whole prompt (StepInput::rope_through), as transformers' generate, which prefills in one
// forward: Generator's logits in any chunk size must be those of one Model::forward over the whole
// prompt (whose own furthest position is the prompt's last, no rope_through needed). With a table
// per chunk they were 2.8e-2 off here; with the prompt's last position + 1 (off by one), 3.4e-3.
// (Against transformers' generate itself: 4.9e-7, checked outside the suite.)
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_ops.h"
#include "parallel/single_communicator.h"
#include "tests/support/model_fixture.h"

namespace gqa {
namespace {

TEST(DynamicRopeChunks, APromptPastMaxPositionsGivesOneForwardsLogitsInAnyChunks) {
  const std::string dir = "tests/fixtures/models/rope_dynamic";  // max_position_embeddings 16
  const ModelConfig config = ModelConfig::from_file(dir + "/config.json");
  ASSERT_EQ(config.rope_scaling.type, RopeType::kDynamic);
  std::vector<int32_t> prompt;
  for (int i = 0; i < 3 * config.max_position_embeddings / 2; ++i) prompt.push_back(3 + (i * 7) % 50);
  const int64_t p = static_cast<int64_t>(prompt.size()), vocab = config.vocab_size;
  cpu::CpuOps ops;
  SingleCommunicator comm;

  // One forward over the whole prompt, every row, straight through the Model.
  const std::unique_ptr<Model> model = test::fixture_model(dir, ops, comm);
  PagedKvCache cache(model->kv_cache_shape(8, 4), DType::kF32, ops);
  const int seq = cache.add_sequence();
  StepInput in;
  in.tokens = prompt;
  in.slots = cache.append(seq, p);
  in.block_tables = {cache.block_table(seq)};
  for (int64_t i = 0; i < p; ++i) {
    in.positions.push_back(static_cast<int32_t>(i));
    in.token_seq.push_back(0);
    in.logit_rows.push_back(i);
  }
  const std::vector<float> one_forward = model->forward(in, cache);
  ASSERT_EQ(one_forward.size(), static_cast<size_t>(p * vocab));

  for (const int64_t chunk : {5, 7, 16, 24}) {
    const GenerateResult res = test::run_generation(dir, prompt, 1, SamplingParams{}, /*keep_logits=*/true, ops, comm,
                                                    /*cuda_graphs=*/true, GenerateRequest{}.slice_candidates,
                                                    /*block_size=*/4, chunk);
    ASSERT_EQ(res.logit_rows, p) << "chunk " << chunk;
    double num = 0, den = 0;
    for (int64_t i = 0; i < p * vocab; ++i) {
      const double d = static_cast<double>(res.logits[i]) - one_forward[i];
      num += d * d;
      den += static_cast<double>(one_forward[i]) * one_forward[i];
    }
    EXPECT_LE(std::sqrt(num / den), 1e-4) << "prefill chunk " << chunk;  // (the mended code: ~4e-7)
  }
}

}  // namespace
}  // namespace gqa
