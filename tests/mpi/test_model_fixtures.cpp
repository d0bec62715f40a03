// The whole model against Hugging Face transformers: every fixture in tests/fixtures/models,
// at the job's rank count (CTest runs this under mpirun -np 1, 2 and 4). Greedy tokens must be
// identical and the logits of every position fed must match to relative error <= 1e-4
// (||ours - ref|| / ||ref|| over all rows, fp32).
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/checkpoint.h"
#include "model/model.h"
#include "parallel/bootstrap.h"
#include "runtime/backend.h"
#include "runtime/generator.h"
#include "tests/support/npy_reader.h"

namespace gqa {
namespace {

const char* kFixtureDir = "tests/fixtures/models/";

struct Reference {
  std::vector<int32_t> prompt, generated;
  test::NpyArray logits;
};

Reference read_reference(const std::string& dir) {
  std::ifstream f(dir + "/reference.json");
  EXPECT_TRUE(f) << "missing " << dir << "/reference.json";
  const nlohmann::json j = nlohmann::json::parse(f);
  Reference r;
  r.prompt = j["prompt_tokens"].get<std::vector<int32_t>>();
  r.generated = j["generated_tokens"].get<std::vector<int32_t>>();
  r.logits = test::read_npy_f32(dir + "/reference_logits.npy");
  return r;
}

class ModelFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelFixture, MatchesTransformers) {
  const std::string dir = kFixtureDir + GetParam();
  auto comm = make_communicator("auto");
  const ModelConfig config = ModelConfig::from_file(dir + "/config.json");
  const ShardPlan plan = ShardPlan::make(
      {config.num_attention_heads, config.num_key_value_heads, config.intermediate_size, config.vocab_size},
      comm->size());
  auto ops = make_backend("cpu");
  const Checkpoint ckpt = Checkpoint::open(dir);
  Model model(config, plan, *ops, *comm, load_weights(ckpt, config, plan, comm->rank(), *ops));
  // Small blocks so sequences span several blocks.
  PagedKvCache cache(model.kv_cache_shape(32, 4), ops->compute_dtype(), *ops);

  const Reference ref = read_reference(dir);
  GenerateRequest req;
  req.prompt = ref.prompt;
  req.max_new_tokens = static_cast<int64_t>(ref.generated.size());
  req.keep_logits = true;
  req.prefill_chunk = 5;  // exercises chunked prefill over the paged cache too
  Generator gen(model, cache, *comm);
  const GenerateResult res = gen.generate(req);

  EXPECT_EQ(res.tokens, ref.generated);
  ASSERT_EQ(ref.logits.shape.size(), 2u);
  ASSERT_EQ(res.logit_rows, ref.logits.shape[0]);
  ASSERT_EQ(static_cast<int64_t>(res.logits.size()), ref.logits.shape[0] * ref.logits.shape[1]);
  double num = 0, den = 0;
  for (size_t i = 0; i < res.logits.size(); ++i) {
    ASSERT_FALSE(std::isnan(res.logits[i])) << "NaN logit at " << i;
    const double diff = res.logits[i] - ref.logits.data[i];
    num += diff * diff;
    den += double(ref.logits.data[i]) * ref.logits.data[i];
  }
  const double rel = std::sqrt(num / den);
  if (comm->rank() == 0) {
    std::printf("[fixture] %-16s T=%d rel_err=%.3e tokens=%s\n", GetParam().c_str(), comm->size(), rel,
                res.tokens == ref.generated ? "same" : "DIFFERENT");
  }
  EXPECT_LE(rel, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelFixture,
                         ::testing::Values("gqa", "mha", "mqa", "llama3_rope", "rope_linear", "rope_dynamic",
                                           "rope_yarn", "qwen2_bias", "llama_attn_bias", "tied", "bf16", "sharded",
                                           "head_dim"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace gqa
