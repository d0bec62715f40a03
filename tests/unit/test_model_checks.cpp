// What the Model refuses by name (model/model_checks.h), each found by an audit of the library API
// to end otherwise in a heap overflow, a std:: exception naming no field, or quietly different
// logits: parts that do not belong together (config, plan, weights, cache), and steps whose
// tokens, slots and block tables disagree.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/cpu_ops.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "model/weights.h"
#include "parallel/single_communicator.h"
#include "tests/support/expect_error.h"

namespace gqa {
namespace {

using test::expect_error;

const char* const kDir = "tests/fixtures/models/gqa";

ShardPlan plan_for(const ModelConfig& c) {
  return ShardPlan::make(c.shard_dims(), 1);
}

struct Parts {
  cpu::CpuOps ops;
  SingleCommunicator comm;
  ModelConfig config = ModelConfig::from_file(std::string(kDir) + "/config.json");
  Checkpoint ckpt = Checkpoint::open(kDir);
  ModelWeights weights() { return load_weights(ckpt, config, plan_for(config), 0, ops); }
};

TEST(ModelChecks, PartsThatDoNotBelongTogetherAreRefused) {
  Parts p;
  ModelConfig more_layers = p.config;
  more_layers.num_hidden_layers += 1;  // (read past the weights' layers before)
  expect_error([&] { Model(more_layers, plan_for(more_layers), p.ops, p.comm, p.weights()); },
               "model weights: " + std::to_string(p.config.num_hidden_layers) +
                   " layers, but the config has num_hidden_layers " + std::to_string(more_layers.num_hidden_layers));
  ModelConfig other_vocab = p.config;
  other_vocab.vocab_size = 256;
  expect_error([&] { Model(p.config, plan_for(other_vocab), p.ops, p.comm, p.weights()); },
               "shard plan made for");
  expect_error([&] { Model(p.config, ShardPlan{}, p.ops, p.comm, p.weights()); },
               "shard plan is for 0 ranks but the communicator has 1");
  ModelConfig bad_eps = p.config;
  bad_eps.rms_norm_eps = -1;  // (NaN logits before)
  expect_error([&] { Model(bad_eps, plan_for(bad_eps), p.ops, p.comm, p.weights()); },
               "rms_norm_eps must be positive in the model's config");
  ModelWeights w = p.weights();
  w.layers[1].w_down = w.layers[1].w_gate_up;
  expect_error([&] { Model(p.config, plan_for(p.config), p.ops, p.comm, std::move(w)); },
               "model weights: layer 1 w_down has shape");
  w = p.weights();
  w.layers[2].bqkv = w.layers[2].attn_norm;  // (the fixture has no q/k/v bias)
  expect_error([&] { Model(p.config, plan_for(p.config), p.ops, p.comm, std::move(w)); },
               "model weights: layer 2 has a q/k/v bias on rank 0, which this config and rank do not hold");
  w = p.weights();
  w.lm_head = Tensor();
  expect_error([&] { Model(p.config, plan_for(p.config), p.ops, p.comm, std::move(w)); },
               "model weights: lm_head is missing");
  EXPECT_NO_THROW(Model(p.config, plan_for(p.config), p.ops, p.comm, p.weights()));
}

// The o_proj bias (Llama attention_bias) is on rank 0 only, where it is added once after the
// all-reduce: missing there, or present without the config's o_bias, is refused.
TEST(ModelChecks, TheOutputBiasIsWhereTheConfigSays) {
  cpu::CpuOps ops;
  SingleCommunicator comm;
  const std::string dir = "tests/fixtures/models/llama_attn_bias";
  const ModelConfig c = ModelConfig::from_file(dir + "/config.json");
  ASSERT_TRUE(c.o_bias);
  const Checkpoint ckpt = Checkpoint::open(dir);
  ModelWeights w = load_weights(ckpt, c, plan_for(c), 0, ops);
  for (LayerWeights& l : w.layers) l.bo = Tensor();
  expect_error([&] { Model(c, plan_for(c), ops, comm, std::move(w)); }, "model weights: layer 0 bo is missing");
  ModelConfig no_bias = c;
  no_bias.o_bias = false;
  expect_error([&] { Model(no_bias, plan_for(c), ops, comm, load_weights(ckpt, c, plan_for(c), 0, ops)); },
               "has an o_proj bias on rank 0, which this config and rank do not hold");
  EXPECT_NO_THROW(Model(c, plan_for(c), ops, comm, load_weights(ckpt, c, plan_for(c), 0, ops)));
}

// Two sequences of 5 and 3 tokens in a cache of 4-token blocks, then one decode token each.
struct Steps {
  Parts p;
  Model model{p.config, plan_for(p.config), p.ops, p.comm, p.weights()};
  PagedKvCache cache{model.kv_cache_shape(8, 4), DType::kF32, p.ops};
  int a = cache.add_sequence(), b = cache.add_sequence();

  StepInput decode() {
    StepInput in;
    for (int s : {a, b}) {
      const int64_t pos = cache.length(s);
      in.tokens.push_back(7);
      in.positions.push_back(static_cast<int32_t>(pos));
      in.token_seq.push_back(s);
      in.slots.push_back(cache.append(s, 1)[0]);
      in.logit_rows.push_back(static_cast<int64_t>(in.tokens.size()) - 1);
    }
    in.block_tables = {cache.block_table(a), cache.block_table(b)};
    return in;
  }
  Steps() {
    cache.append(a, 5);
    cache.append(b, 3);
  }
};

TEST(ModelChecks, StepsWhoseTokensSlotsAndTablesDisagreeAreRefused) {
  Steps s;
  const StepInput good = s.decode();
  EXPECT_NO_THROW(s.model.forward(good, s.cache));
  StepInput in = good;
  in.slots[1] = in.slots[0];  // b's token into a's slot
  expect_error([&] { s.model.forward(in, s.cache); }, "forward step: token 1 (sequence 1, position 3) writes slot");
  in = good;
  in.positions[0] = 9;  // not where its slot is
  expect_error([&] { s.model.forward(in, s.cache); }, "forward step: position 9 of token 0 is past its block table");
  in = good;
  in.tokens[1] = 512;  // the fixture's vocabulary is 512
  expect_error([&] { s.model.forward(in, s.cache); }, "forward step: token 512 at index 1 is outside the vocabulary");
  in = good;
  in.tokens.push_back(7), in.positions.push_back(in.positions[0]), in.token_seq.push_back(0);
  in.slots.push_back(in.slots[0]);  // the same token twice
  expect_error([&] { s.model.forward(in, s.cache); }, "forward step: two tokens write cache slot");
  in = good;
  in.block_tables[0][0] = 8;  // a block the cache does not have
  expect_error([&] { s.model.forward(in, s.cache); }, "block_tables[0][0] = 8 is not one of the cache's 8 blocks");
  in = good;
  in.block_tables.clear();
  expect_error([&] { s.model.forward(in, s.cache); }, "forward step: no block tables");
  in = good;
  in.rope_through = -2;
  expect_error([&] { s.model.forward(in, s.cache); }, "forward step: rope_through -2 is neither -1 nor a position");
  in.rope_through = int64_t{1} << 40;  // (past int32 positions: rope's seq_len would overflow)
  expect_error([&] { s.model.forward(in, s.cache); }, "forward step: rope_through 1099511627776 is neither");
  KvCacheShape one_layer = s.model.kv_cache_shape(8, 4);
  one_layer.num_layers = 1;
  PagedKvCache short_cache(one_layer, DType::kF32, s.p.ops);
  expect_error([&] { s.model.forward(good, short_cache); }, "forward step: the KV cache has 1 layers");
}

TEST(ModelChecks, ForwardSampleChecksItsRequest) {
  Steps s;
  const StepInput in = s.decode();
  EXPECT_EQ(s.model.forward_sample(in, s.cache, SampleSpec{}, {0.0, 0.0}).size(), 2u);
  StepInput again = s.decode();
  expect_error([&] { s.model.forward_sample(again, s.cache, SampleSpec{1.0f, 0, 1.0f}, {0.5, 7.0}); },
               "forward_sample: uniform 7 of row 1 is not in [0, 1)");
  expect_error([&] { s.model.forward_sample(again, s.cache, SampleSpec{}, {0.5}); },
               "forward_sample: 1 uniforms for 2 logit rows");
  expect_error([&] { s.model.forward_sample(again, s.cache, SampleSpec{1.0f, 0, 5.0f}, {0.5, 0.5}); },
               "forward_sample: top_p must be in (0, 1], got 5");
  again.logit_rows.clear();
  expect_error([&] { s.model.forward_sample(again, s.cache, SampleSpec{}, {}); },
               "forward_sample: the step has no logit rows");
}

}  // namespace
}  // namespace gqa
