// A model with sliding_window (Mistral v0.1) runs the positions below its window, where full
// attention is the same, and refuses a step that reaches past it by name (gqa implements no
// sliding-window attention: past the window its results would silently differ from transformers').
// Below the window the setting must change nothing: the logits equal those of the same weights
// without it (not a sliding-window reference; transformers' own mask is not run here).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/cpu_ops.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "parallel/single_communicator.h"

namespace gqa {
namespace {

// One sequence's next `n` tokens at positions [first, first + n) as a step.
StepInput step_of(PagedKvCache& cache, int seq, int64_t n) {
  StepInput in;
  const int64_t first = cache.length(seq);
  const std::vector<int32_t> slots = cache.append(seq, n);
  for (int64_t i = 0; i < n; ++i) {
    in.tokens.push_back(static_cast<int32_t>(5 + i));
    in.positions.push_back(static_cast<int32_t>(first + i));
    in.token_seq.push_back(0);
    in.slots.push_back(slots[i]);
  }
  in.logit_rows.push_back(n - 1);
  in.block_tables = {cache.block_table(seq)};
  return in;
}

TEST(ModelSlidingWindow, PositionsBelowTheWindowRunAndThePastOnesAreRefused) {
  cpu::CpuOps ops;
  SingleCommunicator comm;
  const std::string dir = "tests/fixtures/models/gqa";
  ModelConfig windowed = ModelConfig::from_file(dir + "/config.json");
  const ModelConfig full = windowed;
  windowed.sliding_window = 6;
  const ShardPlan plan = ShardPlan::make(full.shard_dims(), 1);
  const Checkpoint ckpt = Checkpoint::open(dir);
  Model a(full, plan, ops, comm, load_weights(ckpt, full, plan, 0, ops));
  Model b(windowed, plan, ops, comm, load_weights(ckpt, windowed, plan, 0, ops));
  PagedKvCache ca(a.kv_cache_shape(4, 4), DType::kF32, ops), cb(b.kv_cache_shape(4, 4), DType::kF32, ops);
  const int sa = ca.add_sequence(), sb = cb.add_sequence();
  // positions 0-4, then 5: the last below the window; the same logits as full attention
  EXPECT_EQ(b.forward(step_of(cb, sb, 5), cb), a.forward(step_of(ca, sa, 5), ca));
  EXPECT_EQ(b.forward(step_of(cb, sb, 1), cb), a.forward(step_of(ca, sa, 1), ca));
  // position 6 is past it
  try {
    b.forward(step_of(cb, sb, 1), cb);
    ADD_FAILURE() << "position 6 ran past a sliding window of 6";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("this step reaches position 6, past this model's sliding window (sliding_window 6"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace gqa
