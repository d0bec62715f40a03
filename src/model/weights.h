// The weights one rank holds, sliced through the ShardPlan and converted to the backend's
// compute dtype. Tensor names come from one table (weights.cpp), never spelled elsewhere.
#pragma once

#include <functional>
#include <string>
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

// Every tensor of a layer: its member, its name in messages ("layer 3 wqkv"), what it is, and
// which ranks hold it when the config has it ("": every rank).
struct LayerTensor {
  Tensor LayerWeights::*member;
  const char* name;
  const char* what;
  const char* held_by = "";
};
inline constexpr LayerTensor kLayerTensors[] = {
    {&LayerWeights::attn_norm, "attn_norm", "an input norm"},
    {&LayerWeights::wqkv, "wqkv", "a q/k/v weight"},
    {&LayerWeights::bqkv, "bqkv", "a q/k/v bias"},
    {&LayerWeights::wo, "wo", "an o_proj weight"},
    {&LayerWeights::bo, "bo", "an o_proj bias", "rank 0 alone adds it, after the all-reduce, when the config has one"},
    {&LayerWeights::mlp_norm, "mlp_norm", "a post-attention norm"},
    {&LayerWeights::w_gate_up, "w_gate_up", "a gate/up weight"},
    {&LayerWeights::w_down, "w_down", "a down weight"},
};

struct ModelWeights {
  Tensor embed;      // [vocab_local, d] rows shard.vocab of embed_tokens
  std::vector<LayerWeights> layers;
  Tensor final_norm; // [d]
  Tensor lm_head;    // [vocab_local, d] rows shard.vocab of lm_head (or of embed_tokens when tied)
};

// A tensor of ModelWeights that load_weights fills on one rank: a top-level one (layer -1) or a
// member of a layer, its name in messages, and its shape there (its checkpoint slices, stacked).
struct HeldTensor {
  int layer = -1;
  Tensor ModelWeights::*top = nullptr;  // (layer -1)
  int field = 0;                        // (layer >= 0) index into kLayerTensors
  std::string name;
  Shape shape;
  Tensor& of(ModelWeights& w) const;
  const Tensor& of(const ModelWeights& w) const;
};

// The tensors load_weights gives `rank` (holding `shard`), from the same slots it reads by; a tensor
// not listed (a bias the config lacks; the o_proj bias off rank 0) stays undefined on that rank.
std::vector<HeldTensor> held_tensors(const ModelConfig& config, const RankShard& shard, int rank);

// Reads this rank's slices. Validates every tensor's presence and shape against the config
// first (throws gqa::Error naming the tensor, its expected and its found shape). on_progress, when
// set, runs after each tensor (or stacked group) is on the device with (tensors loaded, total).
ModelWeights load_weights(const Checkpoint& ckpt, const ModelConfig& config, const ShardPlan& plan,
                          int rank, Ops& ops, const std::function<void(int64_t, int64_t)>& on_progress = {});

}  // namespace gqa
