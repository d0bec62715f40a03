// The Llama-family decoder (Llama 2/3, Mistral, Qwen2) on one rank, written in kernel ops.
// Tensor parallelism is the caller-visible part of two all-reduces per layer (after the
// row-parallel o_proj and down_proj), one after the vocab-parallel embedding, and a gather of
// the vocab-parallel logits; everything else is local to this rank's slice.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/ops.h"
#include "model/config.h"
#include "model/weights.h"
#include "parallel/communicator.h"
#include "parallel/shard_plan.h"
#include "runtime/kv_cache.h"

namespace gqa {

class StepBuffers;

// One forward step: any mix of tokens from any sequences (prefill chunks and decode tokens).
struct StepInput {
  std::vector<int32_t> tokens;     // [n] token ids
  std::vector<int32_t> positions;  // [n] position of each token in its sequence
  std::vector<int32_t> token_seq;  // [n] index into block_tables
  std::vector<int32_t> slots;      // [n] KV cache slot each token's K/V is written to
  std::vector<std::vector<int32_t>> block_tables;  // [n_seqs][blocks] of each sequence
  std::vector<int64_t> logit_rows; // tokens whose logits are returned
  // Dynamic NTK rope: the furthest position of the forward this step belongs to, which its table
  // is computed for (the larger of this and the step's own furthest position counts). A prompt's
  // prefill chunks give the prompt's last position, so that a prompt prefilled in chunks gets one
  // table, as one forward over the whole prompt (transformers' generate) does, and the result does
  // not depend on the chunk size. -1: the step's own furthest position.
  int64_t rope_through = -1;
};

// The KV cache shape rank `shard` of `config` needs for `num_blocks` blocks of `block_size` tokens
// (Model::kv_cache_shape; also before a Model exists, to check a cache's size before loading).
KvCacheShape kv_cache_shape_for(const ModelConfig& config, const RankShard& shard, int64_t num_blocks,
                                int64_t block_size);

class Model {
 public:
  Model(const ModelConfig& config, const ShardPlan& plan, Ops& ops, Communicator& comm, ModelWeights weights);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // Runs the step, writing K/V into `cache`; returns logits [logit_rows.size(), vocab_size]
  // (row-major, f32) on every rank.
  std::vector<float> forward(const StepInput& step, PagedKvCache& cache);
  // The same step, then one token per logit row drawn where the logits are: at T = 1 by the
  // backend (Ops::sample_rows; u: one uniform per row), no logits leaving the device; at T > 1
  // greedy only (spec.temperature 0), each rank's best (value, global id) over its vocabulary
  // slice gathered instead of the slices (top_k_across_ranks), the same token on every rank.
  // Throws gqa::AgreedError "logits contain NaN" on every rank when any rank's slice has one.
  std::vector<int32_t> forward_sample(const StepInput& step, PagedKvCache& cache, const SampleSpec& spec,
                                      const std::vector<double>& u);
  // The same step, then for each logit row the candidates of a top-k rule (1 <= k <= kMaxTopK):
  // each rank's k best (logit, global id) of its vocabulary slice (ties to the lowest id),
  // all-gathered, so every rank holds at most T * k pairs per row among which are the row's k
  // best (cpu::sample_candidates draws from them). NaN: as forward_sample.
  using Candidates = std::vector<std::pair<float, int32_t>>;
  static constexpr int64_t kMaxTopK = 1024;
  std::vector<Candidates> forward_top_k(const StepInput& step, PagedKvCache& cache, int64_t k);
  // The same step, then for each logit row every rank's share of it for a draw over all ids
  // (cpu::sample_slices): its slice's k best (logit, global id), whether the slice has more ids,
  // and its mass at `temperature` (> 0), all-gathered: every rank holds the same T slices per row.
  using RowSlices = std::vector<SliceCandidates>;
  std::vector<RowSlices> forward_slices(const StepInput& step, PagedKvCache& cache, int64_t k, float temperature);
  // The logits of the last step's rows, gathered from every rank as forward() returns them: for a
  // draw the candidates could not decide. A collective call: every rank makes it.
  std::vector<float> last_logits();

  // The cache shape this rank needs for `num_blocks` blocks of `block_size` tokens.
  KvCacheShape kv_cache_shape(int64_t num_blocks, int64_t block_size) const;

  // Pure decode steps replay CUDA graphs (per batch size and context bucket) when the backend
  // and communicator can record them; on by default, off with gqa-generate --no-graphs.
  void set_cuda_graphs(bool on) { graphs_ = on; }

  const ModelConfig& config() const { return config_; }
  const RankShard& shard() const { return shard_; }

 private:
  struct Step;  // device-side inputs and scratch of one forward (model.cpp)
  int64_t run_step(const StepInput& in, PagedKvCache& cache);
  void upload_step(const StepInput& in, int64_t table_width, Step& s);
  void run_layers(Step& s, PagedKvCache& cache);
  AddRmsNormArgs next_norm(Step& s, const Tensor& weight) const;
  // Each block starts with `norm`, whose output is h.
  void attention_block(int64_t layer, Step& s, PagedKvCache& cache, const AddRmsNormArgs& norm);
  void mlp_block(int64_t layer, Step& s, const AddRmsNormArgs& norm);
  void lm_head(Step& s, const std::vector<int64_t>& rows);
  std::vector<float> gather_logits(int64_t rows);
  std::vector<RowSlices> top_k_across_ranks(int64_t rows, int64_t k, float temperature);
  void all_reduce(Tensor& t);

  ModelConfig config_;
  ShardPlan plan_;
  RankShard shard_;
  Ops& ops_;
  Communicator& comm_;
  ModelWeights w_;
  std::unique_ptr<StepBuffers> buffers_;  // activations reused across steps
  bool graphs_ = true;
  int64_t last_rows_ = 0;  // logit rows of the last step (last_logits)
  uint64_t instance_ = 0;  // unique per Model in the process: part of every graph key
};

}  // namespace gqa
