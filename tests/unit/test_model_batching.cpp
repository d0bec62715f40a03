// Several sequences in one forward step (what continuous batching will do): prefill of two
// prompts and decode tokens of two sequences packed together must give each sequence the same
// logits as running it alone, block tables and all.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/cpu/cpu_ops.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "parallel/single_communicator.h"

namespace gqa {
namespace {

struct Fixture {
  cpu::CpuOps ops;
  SingleCommunicator comm;
  ModelConfig config = ModelConfig::from_file("tests/fixtures/models/gqa/config.json");
  ShardPlan plan = ShardPlan::make(config.shard_dims(), 1);
  Checkpoint ckpt = Checkpoint::open("tests/fixtures/models/gqa");
  Model model{config, plan, ops, comm, load_weights(ckpt, config, plan, 0, ops)};
};

// Appends `tokens` of sequence `seq` (batch slot `slot`) to the step.
void add_tokens(StepInput& in, PagedKvCache& cache, int seq, int slot, const std::vector<int32_t>& tokens) {
  const int64_t first = cache.length(seq);
  const std::vector<int32_t> slots = cache.append(seq, static_cast<int64_t>(tokens.size()));
  for (size_t i = 0; i < tokens.size(); ++i) {
    in.tokens.push_back(tokens[i]);
    in.positions.push_back(static_cast<int32_t>(first + i));
    in.token_seq.push_back(slot);
    in.slots.push_back(slots[i]);
    in.logit_rows.push_back(static_cast<int64_t>(in.tokens.size()) - 1);
  }
  if (static_cast<int>(in.block_tables.size()) <= slot) in.block_tables.resize(slot + 1);
}

void finish_tables(StepInput& in, const PagedKvCache& cache, const std::vector<int>& seqs) {
  for (size_t i = 0; i < seqs.size(); ++i) in.block_tables[i] = cache.block_table(seqs[i]);
}

std::vector<float> run_alone(Fixture& f, const std::vector<int32_t>& prompt, int32_t next) {
  PagedKvCache cache(f.model.kv_cache_shape(16, 4), DType::kF32, f.ops);
  const int seq = cache.add_sequence();
  StepInput a;
  add_tokens(a, cache, seq, 0, prompt);
  finish_tables(a, cache, {seq});
  std::vector<float> out = f.model.forward(a, cache);
  StepInput b;
  add_tokens(b, cache, seq, 0, {next});
  finish_tables(b, cache, {seq});
  const std::vector<float> dec = f.model.forward(b, cache);
  out.insert(out.end(), dec.begin(), dec.end());
  return out;  // [prompt rows + 1, vocab]
}

double rel_err(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

TEST(ModelBatching, PackedSequencesMatchSeparateRuns) {
  Fixture f;
  const int64_t vocab = f.config.vocab_size;
  const std::vector<int32_t> p1{245, 137, 472, 216, 201, 201, 460}, p2{5, 99, 311};
  const std::vector<float> alone1 = run_alone(f, p1, 17), alone2 = run_alone(f, p2, 400);

  // A cache with blocks handed out interleaved between the two sequences.
  PagedKvCache cache(f.model.kv_cache_shape(16, 4), DType::kF32, f.ops);
  const int s1 = cache.add_sequence(), s2 = cache.add_sequence();
  StepInput pre;  // both prompts in one step, second sequence first
  add_tokens(pre, cache, s2, 0, p2);
  add_tokens(pre, cache, s1, 1, p1);
  finish_tables(pre, cache, {s2, s1});
  const std::vector<float> packed = f.model.forward(pre, cache);
  StepInput dec;  // one decode token each: a pure decode step over two sequences
  add_tokens(dec, cache, s1, 0, {17});
  add_tokens(dec, cache, s2, 1, {400});
  finish_tables(dec, cache, {s1, s2});
  const std::vector<float> decoded = f.model.forward(dec, cache);

  const size_t n1 = p1.size(), n2 = p2.size();
  EXPECT_LT(rel_err(packed.data(), alone2.data(), n2 * vocab), 1e-5);                     // p2 prefill rows
  EXPECT_LT(rel_err(packed.data() + n2 * vocab, alone1.data(), n1 * vocab), 1e-5);        // p1 prefill rows
  EXPECT_LT(rel_err(decoded.data(), alone1.data() + n1 * vocab, vocab), 1e-5);            // s1 decode row
  EXPECT_LT(rel_err(decoded.data() + vocab, alone2.data() + n2 * vocab, vocab), 1e-5);    // s2 decode row
}

}  // namespace
}  // namespace gqa
