// The o_proj bias (Llama attention_bias) at the job's rank count (np 1, 2, 4): only rank 0 holds
// it, since it is added once after the all-reduce; a Model given it on another rank refuses (it
// added it again there: logits off by 0.34 at np 2, found by a review), and one without it on
// rank 0 refuses too. The Model constructor has no collective, so each rank checks its own.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "model/weights.h"
#include "parallel/bootstrap.h"
#include "runtime/backend.h"

namespace gqa {
namespace {

TEST(ModelBiasRanks, TheOutputBiasIsOnRankZeroOnly) {
  auto comm = make_communicator("auto");
  auto ops = make_backend("cpu");
  const std::string dir = "tests/fixtures/models/llama_attn_bias";
  const ModelConfig c = ModelConfig::from_file(dir + "/config.json");
  ASSERT_TRUE(c.o_bias);
  const ShardPlan plan =
      ShardPlan::make(c.shard_dims(), comm->size());
  const Checkpoint ckpt = Checkpoint::open(dir);
  const int rank = comm->rank();
  EXPECT_NO_THROW(Model(c, plan, *ops, *comm, load_weights(ckpt, c, plan, rank, *ops)));
  // Every rank given rank 0's weights' bias: refused on every rank but 0.
  const ModelWeights rank0 = load_weights(ckpt, c, plan, 0, *ops);
  ModelWeights w = load_weights(ckpt, c, plan, rank, *ops);
  for (size_t l = 0; l < w.layers.size(); ++l) w.layers[l].bo = rank0.layers[l].bo;
  if (rank == 0) {
    EXPECT_NO_THROW(Model(c, plan, *ops, *comm, std::move(w)));
  } else {
    try {
      Model(c, plan, *ops, *comm, std::move(w));
      ADD_FAILURE() << "rank " << rank << " took an o_proj bias";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("has an o_proj bias on rank " + std::to_string(rank) +
                                           ", which this config and rank do not hold (rank 0 alone adds it"),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace gqa
