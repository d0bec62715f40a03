// Errors inside Generator::generate on the CPU backend, at the job's rank count (np 1, 2, 4): an
// error on rank 0 alone (its stop_after callback throwing, a NaN row in its draw) makes every rank
// throw together, where the other ranks used to wait in the token's
// broadcast for ever; on_token or on_prefill_progress throwing on one rank only stops every rank
// (they used to wait in the next step); a generation the cache cannot hold, or one past the
// model's sliding window, is refused before its first step; and a callback that frees the
// generation's own sequence gives an error, not std::terminate from the sequence guard.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "model/weights.h"
#include "parallel/bootstrap.h"
#include "runtime/backend.h"
#include "runtime/generator.h"
#include "tests/mpi/generator_job.h"

namespace gqa {
namespace {

using test::Job;

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
// kept logits; every rank throws with it, an AgreedError (rank 0: a RankError).
TEST(GeneratorErrors, ANanRowOnRankZeroStopsEveryRank) {
  auto comm = make_communicator("auto");
  auto ops = make_backend("cpu");
  const ModelConfig config = ModelConfig::from_file("tests/fixtures/models/gqa/config.json");
  const ShardPlan plan = ShardPlan::make(config.shard_dims(), comm->size());
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
    // (in step on every rank: agreed, rank 0's its own reason, so a program ends each rank normally
    // and rank 0 alone says why)
    EXPECT_NE(dynamic_cast<const AgreedError*>(&e), nullptr) << what;
    EXPECT_EQ(dynamic_cast<const RankError*>(&e) != nullptr, comm->rank() == 0) << what;
  }
}

// A callback throwing on the last rank only (rank 0 at np 1): every rank throws, that rank its own
// error, the others one naming the callback; then the ranks are in step for the next generation.
void expect_every_rank_throws(Job& s, GenerateRequest req, std::function<void(int32_t)> on_token,
                              const std::string& own, const std::string& others) {
  try {
    s.gen.generate(req, on_token);
    ADD_FAILURE() << "rank " << s.comm->rank() << ": generate returned";
  } catch (const std::exception& e) {
    const bool last = s.comm->rank() == s.comm->size() - 1;
    EXPECT_NE(std::string(e.what()).find(last ? own : others), std::string::npos)
        << "rank " << s.comm->rank() << ": " << e.what();
  }
  EXPECT_EQ(s.cache.allocator().num_free(), s.cache.allocator().num_total());
  req.on_prefill_progress = nullptr;
  EXPECT_EQ(s.gen.generate(req).tokens.size(), static_cast<size_t>(req.max_new_tokens));
}

TEST(GeneratorErrors, OnTokenThrowingOnOneRankStopsEveryRank) {
  Job s;
  int calls = 0;
  auto on_token = [&](int32_t) {
    if (s.comm->rank() == s.comm->size() - 1 && ++calls == 2) throw std::runtime_error("on_token failed on purpose");
  };
  expect_every_rank_throws(s, Job::request(5), on_token, "on_token failed on purpose",
                           "another rank's on_token callback threw");
  EXPECT_EQ(calls, s.comm->rank() == s.comm->size() - 1 ? 2 : 0);
  // The same with on_token given on the last rank only (the ranks agree per token when any has one).
  calls = 0;
  const bool last = s.comm->rank() == s.comm->size() - 1;
  expect_every_rank_throws(s, Job::request(5), last ? std::function<void(int32_t)>(on_token) : nullptr,
                           "on_token failed on purpose", "another rank's on_token callback threw");
}

TEST(GeneratorErrors, PrefillProgressThrowingOnOneRankStopsEveryRank) {
  Job s;
  GenerateRequest req = Job::request(3);
  req.prefill_chunk = 1;
  int tokens_seen = 0;
  req.on_prefill_progress = [&](int64_t done, int64_t) {
    if (s.comm->rank() == s.comm->size() - 1 && done == 2) throw std::runtime_error("progress failed on purpose");
  };
  expect_every_rank_throws(s, req, [&](int32_t) { ++tokens_seen; }, "progress failed on purpose",
                           "another rank's on_prefill_progress callback threw");
  EXPECT_EQ(tokens_seen, 0);
}

// The cache has 8 blocks of 4 positions: a 3-token prompt with 30 new tokens feeds 32 positions
// (the last token is not fed back) and runs; with 31 it is refused before any step.
TEST(GeneratorErrors, AGenerationTheCacheCannotHoldIsRefusedBeforeItStarts) {
  Job s;
  int steps = 0;
  GenerateRequest req = Job::request(31);
  req.on_prefill_progress = [&](int64_t, int64_t) { ++steps; };
  try {
    s.gen.generate(req);
    ADD_FAILURE() << "generate returned";
  } catch (const KvCacheFull& e) {
    EXPECT_NE(std::string(e.what()).find("needs 9 blocks of 4 positions, and 8 of the cache's 8 are free"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(steps, 0);
  EXPECT_EQ(s.cache.allocator().num_free(), s.cache.allocator().num_total());
  req.max_new_tokens = std::numeric_limits<int64_t>::max();  // (no overflow on the way to the refusal)
  EXPECT_THROW(s.gen.generate(req), Error);
  req.max_new_tokens = 30;
  const GenerateResult res = s.gen.generate(req);
  EXPECT_EQ(res.tokens.size(), 30u);
  EXPECT_EQ(steps, 1);
}

// With sliding_window 4, positions 0..3 run (full attention is the same there) and a generation
// reaching position 4 is refused before its first step (test_model_sliding_window: a direct step).
TEST(GeneratorErrors, AGenerationPastTheSlidingWindowIsRefusedBeforeItStarts) {
  Job s(/*sliding_window=*/4);
  int steps = 0;
  GenerateRequest req = Job::request(3);  // prompt 3 + 2 fed back: positions 0..4
  req.on_prefill_progress = [&](int64_t, int64_t) { ++steps; };
  try {
    s.gen.generate(req);
    ADD_FAILURE() << "generate returned";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the prompt (3 tokens) with max_new_tokens 3 reaches position 4, past this "
                                         "model's sliding window (sliding_window 4"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(steps, 0);
  req.max_new_tokens = 2;
  EXPECT_EQ(s.gen.generate(req).tokens.size(), 2u);
}

// A request's own fields are checked on every rank before anything runs (every rank has the same
// request, so they all throw; none waits in a collective), and the cache is left as it was.
TEST(GeneratorErrors, ABadRequestIsRefusedByName) {
  Job s;
  const auto expect_refused = [&](const GenerateRequest& req, const std::string& text) {
    try {
      s.gen.generate(req);
      ADD_FAILURE() << "generate returned; expected: " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
    EXPECT_EQ(s.cache.allocator().num_free(), s.cache.allocator().num_total());
  };
  GenerateRequest req = Job::request(-1);
  expect_refused(req, "max_new_tokens must be >= 0, got -1");
  req = Job::request(2);
  req.prefill_chunk = 0;
  expect_refused(req, "prefill_chunk must be > 0, got 0");
  req = Job::request(2);
  req.slice_candidates = 0;
  expect_refused(req, "slice_candidates must be in [1, ");
  req = Job::request(2);
  req.prompt = {};
  expect_refused(req, "the prompt is empty");
  req.prompt = {1, 512};  // (the fixture's vocabulary has 512 ids)
  expect_refused(req, "prompt token 512 at index 1 is outside the vocabulary [0, 512)");
  EXPECT_EQ(s.gen.generate(Job::request(2)).tokens.size(), 2u);  // and the generator still runs
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
