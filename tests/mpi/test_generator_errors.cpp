// Errors inside Generator::generate on the CPU backend, at the job's rank count (np 1, 2, 4): an
// error on rank 0 alone (its stop_after callback throwing, a NaN row in its draw) makes every rank
// throw together, where the other ranks used to wait in the token's
// broadcast for ever; and a callback that frees the generation's own sequence gives an error, not
// std::terminate from the sequence guard.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "model/weights.h"
#include "parallel/bootstrap.h"
#include "runtime/backend.h"
#include "runtime/generator.h"

namespace gqa {
namespace {

struct Job {
  std::unique_ptr<Communicator> comm = make_communicator("auto");
  std::unique_ptr<Ops> ops = make_backend("cpu");
  ModelConfig config = ModelConfig::from_file("tests/fixtures/models/gqa/config.json");
  ShardPlan plan = ShardPlan::make(
      {config.num_attention_heads, config.num_key_value_heads, config.intermediate_size, config.vocab_size},
      comm->size());
  Checkpoint ckpt = Checkpoint::open("tests/fixtures/models/gqa");
  Model model{config, plan, *ops, *comm, load_weights(ckpt, config, plan, comm->rank(), *ops)};
  PagedKvCache cache{model.kv_cache_shape(8, 4), DType::kF32, *ops};
  Generator gen{model, cache, *comm};

  static GenerateRequest request(int64_t max_new_tokens) {
    GenerateRequest req;
    req.prompt = {1, 2, 3};
    req.max_new_tokens = max_new_tokens;
    return req;
  }
};

TEST(GeneratorErrors, AnErrorOnRankZeroAloneStopsEveryRank) {
  Job s;
  GenerateRequest req = Job::request(6);
  int calls = 0;
  req.stop_after = [&](int32_t) -> bool {  // (rank 0 only)
    if (++calls == 3) throw std::runtime_error("stop_after failed on purpose");
    return false;
  };
  try {
    s.gen.generate(req);
    ADD_FAILURE() << "rank " << s.comm->rank() << ": generate returned";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    if (s.comm->rank() == 0) {
      EXPECT_EQ(what, "stop_after failed on purpose");
    } else {
      EXPECT_NE(what.find("rank 0 failed drawing or deciding a token"), std::string::npos) << what;
    }
  }
  // The ranks are in step again: a second generation runs to the end on every rank.
  req.stop_after = nullptr;
  EXPECT_EQ(s.gen.generate(req).tokens.size(), 6u);
}

// A NaN logit row (here every row: final_norm's first weight NaN) fails rank 0's draw from the
// kept logits; every rank throws with it.
TEST(GeneratorErrors, ANanRowOnRankZeroStopsEveryRank) {
  auto comm = make_communicator("auto");
  auto ops = make_backend("cpu");
  const ModelConfig config = ModelConfig::from_file("tests/fixtures/models/gqa/config.json");
  const ShardPlan plan = ShardPlan::make(
      {config.num_attention_heads, config.num_key_value_heads, config.intermediate_size, config.vocab_size},
      comm->size());
  ModelWeights w = load_weights(Checkpoint::open("tests/fixtures/models/gqa"), config, plan, comm->rank(), *ops);
  w.final_norm.data_as<float>()[0] = std::nanf("");
  Model model(config, plan, *ops, *comm, std::move(w));
  PagedKvCache cache(model.kv_cache_shape(8, 4), DType::kF32, *ops);
  Generator gen(model, cache, *comm);
  GenerateRequest req = Job::request(4);
  req.keep_logits = true;  // (rank 0 draws from the gathered rows on the host)
  try {
    gen.generate(req);
    ADD_FAILURE() << "rank " << comm->rank() << ": generate returned";
  } catch (const Error& e) {
    const std::string what = e.what();
    const std::string want = comm->rank() == 0 ? "logits contain NaN" : "rank 0 failed drawing or deciding a token";
    EXPECT_NE(what.find(want), std::string::npos) << what;
  }
}

TEST(GeneratorErrors, FreeingTheGenerationsSequenceIsAnError) {
  Job s;
  GenerateRequest req = Job::request(4);
  // (every rank frees the sequence in its prefill progress callback, the same on all)
  req.on_prefill_progress = [&](int64_t, int64_t) { s.cache.free_sequence(0); };
  EXPECT_THROW(s.gen.generate(req), Error);
  EXPECT_EQ(s.cache.allocator().num_free(), s.cache.allocator().num_total());
}

}  // namespace
}  // namespace gqa
