// A checkpoint's model as this rank's shard of it (config, shard plan, weights): what the fixture
// tests (model_fixture.h) and the test tools without gtest (tests/tools/step_stop_probe.cpp) run.
#pragma once

#include <memory>
#include <string>

#include "model/checkpoint.h"
#include "model/config.h"
#include "model/model.h"
#include "model/weights.h"

namespace gqa::test {

// The checkpoint in `dir` (a fixture's, or any), this rank's shard of it.
inline std::unique_ptr<Model> fixture_model(const std::string& dir, Ops& ops, Communicator& comm) {
  const ModelConfig config = ModelConfig::from_file(dir + "/config.json");
  const ShardPlan plan = ShardPlan::make(config.shard_dims(), comm.size());
  return std::make_unique<Model>(config, plan, ops, comm,
                                 load_weights(Checkpoint::open(dir), config, plan, comm.rank(), ops));
}

}  // namespace gqa::test
