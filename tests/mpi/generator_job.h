// A Generator over the gqa fixture (tests/fixtures/models/gqa) at the job's rank count on the CPU
// backend, with a small cache (8 blocks of 4 positions), for the multi-rank Generator tests.
#pragma once

#include <cstdint>
#include <memory>

#include "model/checkpoint.h"
#include "model/config.h"
#include "model/model.h"
#include "model/weights.h"
#include "parallel/bootstrap.h"
#include "runtime/backend.h"
#include "runtime/generator.h"

namespace gqa::test {

inline ModelConfig fixture_config(int64_t sliding_window = 0) {
  ModelConfig c = ModelConfig::from_file("tests/fixtures/models/gqa/config.json");
  c.sliding_window = sliding_window;
  return c;
}

struct Job {
  explicit Job(int64_t sliding_window = 0) : config(fixture_config(sliding_window)) {}
  std::unique_ptr<Communicator> comm = make_communicator("auto");
  std::unique_ptr<Ops> ops = make_backend("cpu");
  ModelConfig config;
  ShardPlan plan = ShardPlan::make(config.shard_dims(), comm->size());
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

}  // namespace gqa::test
