// The model shapes gqa-bench times, and random bf16 weights for them built on the device.
//
// One rank's shard of Llama-3-70B at T = 8 is run as a one-rank model whose full sizes are the
// shard's sizes (8 query heads, 1 KV head, FFN 3584, vocab 16032, 80 layers): with a one-rank
// ShardPlan rank 0 owns everything, so the Model executes exactly the kernels one of 8 ranks
// would, minus the collectives (their cost is the projection line's business).
#pragma once

#include <cstdint>
#include <string>

#include "kernels/ops.h"
#include "model/config.h"
#include "model/weights.h"
#include "parallel/shard_plan.h"

namespace gqa::bench {

constexpr int kShardRanks = 8;  // the tensor-parallel degree the 70B shard is cut for

// One rank's shard of a Llama-3-70B-sized model at T = 8 with `kv_heads_local` KV heads on the
// rank: 1 for Llama-3-70B's GQA-8 (and for MQA, whose one KV head is replicated on every rank),
// 8 for the MHA model of the same size (64 KV heads).
ModelConfig llama70b_shard_config(int64_t kv_heads_local = 1, int64_t layers = 80);

// Llama-3-8B's shape (hidden 4096, 32 q heads, 8 KV heads, FFN 14336, vocab 128256) with
// `layers` of its 32 layers.
ModelConfig llama8b_config(int64_t layers = 32);

// The one-rank plan for `c` (rank 0 owns every head, FFN column and vocab row).
ShardPlan single_rank_plan(const ModelConfig& c);

// Weights for `c` on `ops`'s device (compute dtype), uniform random: matrices in
// +-1/sqrt(fan_in), embeddings in +-1, norm weights in 1 +- 0.1. No checkpoint involved.
ModelWeights random_weights(const ModelConfig& c, Ops& ops, void* stream, uint32_t seed);

// Bytes of every weight tensor the weights hold.
double weight_bytes(const ModelWeights& w);
// Bytes a decode step of `batch` tokens reads from the weights: everything but the embedding
// table, of which it reads `batch` rows.
double step_weight_bytes(const ModelWeights& w, int64_t batch);
// Multiply-accumulate weights one token passes through in the GEMMs: every layer's projections
// (q, k, v, o, gate, up, down); the LM head separately (a prefill computes it for one row).
double layer_matmul_params(const ModelConfig& c);
double lm_head_params(const ModelConfig& c);
// K and V bytes of one token over all layers (bf16).
double kv_bytes_per_token(const ModelConfig& c);

std::string describe(const ModelConfig& c);  // "80 layers, hidden 8192, 8 q / 1 kv heads, ..."

}  // namespace gqa::bench
