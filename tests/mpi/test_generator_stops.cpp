// How Generator ends a generation, at the job's rank count (np 1, 2, 4) on the CPU backend: at an
// EOS id (the EOS token kept as the last token, finish_reason "eos"), where stop_after says
// (finish_reason "stop", that token kept), or at max_new_tokens ("length"); for greedy decoding
// (the backend draws) and for sampling (at T > 1 rank 0 draws from every rank's candidates or
// slices), the tokens before the stop the same as without it. Found missing by mutation testing
// (leaving the EOS token out of the result passed every test).
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "tests/mpi/generator_job.h"

namespace gqa {
namespace {

using test::Job;

struct Mode {
  const char* name;
  SamplingParams sampling;
};

const Mode kModes[] = {{"greedy", {0.0f, 0, 1.0f, 0}}, {"t0.9 k50", {0.9f, 50, 1.0f, 5}}, {"t1.2", {1.2f, 0, 1.0f, 9}}};

TEST(GeneratorStops, AtEosAtStopAfterAndAtTheLength) {
  for (const Mode& m : kModes) {
    Job s;
    GenerateRequest req = Job::request(8);
    req.sampling = m.sampling;
    const GenerateResult free_run = s.gen.generate(req);
    ASSERT_EQ(free_run.tokens.size(), 8u) << m.name;
    EXPECT_EQ(free_run.finish_reason, "length") << m.name;

    // EOS: the first occurrence of the run's fourth token ends it, that token included.
    const int32_t eos = free_run.tokens[3];
    const size_t at = static_cast<size_t>(std::find(free_run.tokens.begin(), free_run.tokens.end(), eos) -
                                          free_run.tokens.begin());
    req.eos_ids = {eos};
    req.keep_logits = true;
    const GenerateResult eos_run = s.gen.generate(req);
    EXPECT_EQ(eos_run.tokens, std::vector<int32_t>(free_run.tokens.begin(), free_run.tokens.begin() + at + 1))
        << m.name;
    EXPECT_EQ(eos_run.finish_reason, "eos") << m.name;
    // (logits of every position fed: the prompt's 3, then every token but the last)
    EXPECT_EQ(eos_run.logit_rows, 3 + static_cast<int64_t>(at)) << m.name;

    // stop_after (rank 0): true at the run's third token.
    req.eos_ids.clear();
    req.keep_logits = false;
    int calls = 0;
    req.stop_after = [&](int32_t) { return ++calls == 3; };
    const GenerateResult stop_run = s.gen.generate(req);
    EXPECT_EQ(stop_run.tokens, std::vector<int32_t>(free_run.tokens.begin(), free_run.tokens.begin() + 3)) << m.name;
    EXPECT_EQ(stop_run.finish_reason, "stop") << m.name;
    EXPECT_EQ(calls, s.comm->rank() == 0 ? 3 : 0) << m.name;

    // An EOS id no token reaches, and max_new_tokens 0.
    req.stop_after = nullptr;
    req.eos_ids = {s.config.vocab_size + 5};
    EXPECT_EQ(s.gen.generate(req).tokens, free_run.tokens) << m.name;
    req.max_new_tokens = 0;
    const GenerateResult none = s.gen.generate(req);
    EXPECT_TRUE(none.tokens.empty()) << m.name;
    EXPECT_EQ(none.finish_reason, "length") << m.name;
  }
}

// An EOS token ends the generation as "eos" without being passed to stop_after, even where
// stop_after would stop at it too: gqa-generate's stop_after streams each token's text, so an
// EOS token's text would be printed. Found by mutation testing (asking stop_after before the EOS
// check passed every test).
TEST(GeneratorStops, AnEosTokenIsNotPassedToStopAfter) {
  Job s;
  GenerateRequest req = Job::request(8);
  const GenerateResult free_run = s.gen.generate(req);
  ASSERT_EQ(free_run.tokens.size(), 8u);
  const int32_t eos = free_run.tokens[2];
  const auto at = std::find(free_run.tokens.begin(), free_run.tokens.end(), eos);
  req.eos_ids = {eos};
  std::vector<int32_t> seen;
  req.stop_after = [&](int32_t token) {
    seen.push_back(token);
    return token == eos;
  };
  const GenerateResult run = s.gen.generate(req);
  EXPECT_EQ(run.tokens, std::vector<int32_t>(free_run.tokens.begin(), at + 1));
  EXPECT_EQ(run.finish_reason, "eos");
  EXPECT_EQ(seen, s.comm->rank() == 0 ? std::vector<int32_t>(free_run.tokens.begin(), at) : std::vector<int32_t>{});
}

}  // namespace
}  // namespace gqa
