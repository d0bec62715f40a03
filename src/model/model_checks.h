// What the Model constructor checks before it keeps its parts (model/model.h): they must belong
// together, since a mismatch would otherwise read past the weights or give wrong logits quietly.
#pragma once

#include "model/config.h"
#include "model/model.h"
#include "model/weights.h"
#include "parallel/shard_plan.h"
#include "runtime/kv_cache.h"

namespace gqa {

// That `plan` was made for this config's dims (heads, KV heads, FFN width, vocabulary) and has
// `rank` among its ranks (load_weights and the Model constructor both ask).
void check_plan_fits(const ModelConfig& config, const ShardPlan& plan, int rank);

// This rank's shard of `plan`, after checking that the plan was made for this config's dims
// (heads, KV heads, FFN width, vocabulary) and for `world_size` ranks, and that `rank` is one of them.
const RankShard& checked_rank_shard(const ModelConfig& config, const ShardPlan& plan, int rank, int world_size);

// Every weight of `w` present with the shape this config and shard give it (held_tensors: the
// shapes load_weights gives them), as many layers as num_hidden_layers, and no tensor this rank does
// not hold (a bias the config lacks; the o_proj bias off rank 0, since rank 0 alone adds it after
// the all-reduce). Throws gqa::Error naming the first that differs.
void check_weights_fit(const ModelConfig& config, const RankShard& shard, int rank, const ModelWeights& w);

// A step's inputs against each other and the cache, on the host before anything runs (a mismatch
// would write another sequence's K/V or attend to the wrong rows, and the logits would just be
// different): token ids in [0, vocab_size); at least one sequence; each token's sequence index in
// range; each token's slot the one its block table gives its position
// (table[position / block_size] * block_size + position % block_size), every table entry up to
// that position a block of the cache; no slot written twice; `expected` (Model::kv_cache_shape)
// the cache's layers, KV heads and head_dim. Throws gqa::Error naming the token and values.
void check_step_input(const StepInput& in, const PagedKvCache& cache, const KvCacheShape& expected,
                      int64_t vocab_size);

// Model::forward_sample's request: at least one logit row, one uniform in [0, 1) per row, and a
// spec the samplers take (temperature finite and >= 0, top_k >= 0, top_p in (0, 1]).
void check_sample_request(const SampleSpec& spec, const std::vector<double>& u, size_t rows);

}  // namespace gqa
