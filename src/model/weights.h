// The weights one rank holds, sliced through the ShardPlan and converted to the backend's
// compute dtype. Tensor names come from one table (weights.cpp), never spelled elsewhere.
#pragma once

#include <functional>
#include <vector>

#include "core/tensor.h"
#include "kernels/ops.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "parallel/shard_plan.h"

namespace gqa {

struct LayerWeights {
  Tensor attn_norm;  // [d]
  // [(hq_local + 2 hkv_local) * hd, d] column-parallel: this rank's q_proj rows, then its
  // k_proj rows, then its v_proj rows (stacked, so one GEMM can produce all three)
  Tensor wqkv;
  Tensor bqkv;       // [(hq_local + 2 hkv_local) * hd], stacked the same way, only when config.qkv_bias
  Tensor wo;         // [d, hq_local * hd]     row-parallel (columns of o_proj)
  Tensor bo;         // [d], only when config.o_bias, and only on the rank that adds it (rank 0)
  Tensor mlp_norm;   // [d]
  Tensor w_gate_up;  // [2 f_local, d]  column-parallel: this rank's gate_proj rows, then its up_proj rows
  Tensor w_down;     // [d, f_local]
};

struct ModelWeights {
  Tensor embed;      // [vocab_local, d] rows shard.vocab of embed_tokens
  std::vector<LayerWeights> layers;
  Tensor final_norm; // [d]
  Tensor lm_head;    // [vocab_local, d] rows shard.vocab of lm_head (or of embed_tokens when tied)
};

// Reads this rank's slices. Validates every tensor's presence and shape against the config
// first (throws gqa::Error naming the tensor, its expected and its found shape). on_progress, when
// set, runs after each tensor (or stacked group) is on the device with (tensors loaded, total).
ModelWeights load_weights(const Checkpoint& ckpt, const ModelConfig& config, const ShardPlan& plan,
                          int rank, Ops& ops, const std::function<void(int64_t, int64_t)>& on_progress = {});

}  // namespace gqa
