// load_weights: every tensor name comes from kWeightNames (llama.cpp llama-arch style), every
// split from the ShardPlan. The work is two passes over one list of slots: first validate all
// shapes (so a bad checkpoint fails before anything is allocated on the device), then read each
// rank's slice into a host f32 buffer and upload it, one tensor at a time.
#include "model/weights.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <string>

#include "core/error.h"
#include "model/model_checks.h"

namespace gqa {
namespace {

enum class WeightKind {
  kEmbed, kFinalNorm, kLmHead,
  kAttnNorm, kWq, kWk, kWv, kBq, kBk, kBv, kWo, kBo,
  kMlpNorm, kGate, kUp, kDown,
};

// Hugging Face names; "%d" is the layer index.
struct WeightName {
  WeightKind kind;
  const char* pattern;
};
constexpr WeightName kWeightNames[] = {
    {WeightKind::kEmbed, "model.embed_tokens.weight"},
    {WeightKind::kFinalNorm, "model.norm.weight"},
    {WeightKind::kLmHead, "lm_head.weight"},
    {WeightKind::kAttnNorm, "model.layers.%d.input_layernorm.weight"},
    {WeightKind::kWq, "model.layers.%d.self_attn.q_proj.weight"},
    {WeightKind::kWk, "model.layers.%d.self_attn.k_proj.weight"},
    {WeightKind::kWv, "model.layers.%d.self_attn.v_proj.weight"},
    {WeightKind::kBq, "model.layers.%d.self_attn.q_proj.bias"},
    {WeightKind::kBk, "model.layers.%d.self_attn.k_proj.bias"},
    {WeightKind::kBv, "model.layers.%d.self_attn.v_proj.bias"},
    {WeightKind::kWo, "model.layers.%d.self_attn.o_proj.weight"},
    {WeightKind::kBo, "model.layers.%d.self_attn.o_proj.bias"},
    {WeightKind::kMlpNorm, "model.layers.%d.post_attention_layernorm.weight"},
    {WeightKind::kGate, "model.layers.%d.mlp.gate_proj.weight"},
    {WeightKind::kUp, "model.layers.%d.mlp.up_proj.weight"},
    {WeightKind::kDown, "model.layers.%d.mlp.down_proj.weight"},
};

std::string weight_name(WeightKind kind, int layer = -1) {
  for (const WeightName& w : kWeightNames) {
    if (w.kind != kind) continue;
    char buf[128];
    std::snprintf(buf, sizeof(buf), w.pattern, layer);
    return buf;
  }
  GQA_FAIL("weight_name: no name for weight kind " << static_cast<int>(kind));
}

// Which dimension of the checkpoint tensor this rank takes a range of.
enum class Split {
  kReplicated,  // the whole tensor on every rank
  kDim0,        // rows of a matrix / elements of a vector (column-parallel layers, vocab)
  kDim1,        // columns of a matrix (row-parallel layers)
};

struct WeightSlot {
  std::string name;  // tensor in the checkpoint
  Shape full;        // its expected shape there
  Split split;
  Range part;        // range along the split dimension (unused when replicated)
  HeldTensor dst;    // where its slice goes (dst.name, dst.shape: set for the first slot of a stack)
  bool held = true;  // false: validated but not held by this rank
  int stack = 1;     // this slot's slice and the next stack - 1 slots' are stacked by rows into dst
};

// Head ranges in units of rows/columns of the projection matrices.
Range times(Range r, int64_t k) { return {r.begin * k, r.end * k}; }

// kLayerTensors' index of a member.
int field_of(Tensor LayerWeights::*member) {
  for (size_t i = 0; i < std::size(kLayerTensors); ++i) {
    if (kLayerTensors[i].member == member) return static_cast<int>(i);
  }
  GQA_FAIL("weights: a LayerWeights member missing from kLayerTensors");
}

void add_layer_slots(const ModelConfig& c, const RankShard& s, int rank, int layer, std::vector<WeightSlot>& slots) {
  const int64_t d = c.hidden_size, hd = c.head_dim, f = c.intermediate_size;
  const int64_t q_dim = c.num_attention_heads * hd, kv_dim = c.num_key_value_heads * hd;
  const Range q = times(s.q_heads, hd), kv = times(s.kv_heads, hd);
  auto add = [&](WeightKind k, Shape full, Split split, Range part, Tensor LayerWeights::*member) {
    HeldTensor dst;
    dst.layer = layer;
    dst.field = field_of(member);
    slots.push_back({weight_name(k, layer), std::move(full), split, part, dst});
  };
  add(WeightKind::kAttnNorm, {d}, Split::kReplicated, {}, &LayerWeights::attn_norm);
  // q, k and v stacked into one weight (and bias): one GEMM can produce all three.
  add(WeightKind::kWq, {q_dim, d}, Split::kDim0, q, &LayerWeights::wqkv);
  slots.back().stack = 3;
  add(WeightKind::kWk, {kv_dim, d}, Split::kDim0, kv, &LayerWeights::wqkv);
  add(WeightKind::kWv, {kv_dim, d}, Split::kDim0, kv, &LayerWeights::wqkv);
  if (c.qkv_bias) {
    add(WeightKind::kBq, {q_dim}, Split::kDim0, q, &LayerWeights::bqkv);
    slots.back().stack = 3;
    add(WeightKind::kBk, {kv_dim}, Split::kDim0, kv, &LayerWeights::bqkv);
    add(WeightKind::kBv, {kv_dim}, Split::kDim0, kv, &LayerWeights::bqkv);
  }
  add(WeightKind::kWo, {d, q_dim}, Split::kDim1, q, &LayerWeights::wo);  // [d, hq_local * hd]
  // The o_proj output is summed across ranks by the all-reduce, so exactly one rank adds the bias.
  if (c.o_bias) {
    add(WeightKind::kBo, {d}, Split::kReplicated, {}, &LayerWeights::bo);
    slots.back().held = rank == 0;
  }
  add(WeightKind::kMlpNorm, {d}, Split::kReplicated, {}, &LayerWeights::mlp_norm);
  // gate and up stacked into one [2 f_local, d] weight: one GEMM for both.
  add(WeightKind::kGate, {f, d}, Split::kDim0, s.ffn, &LayerWeights::w_gate_up);
  slots.back().stack = 2;
  add(WeightKind::kUp, {f, d}, Split::kDim0, s.ffn, &LayerWeights::w_gate_up);
  add(WeightKind::kDown, {d, f}, Split::kDim1, s.ffn, &LayerWeights::w_down);  // [d, f_local]
}

// This rank's part of a slot's tensor: the rows and columns to read, and its local shape.
struct SlotPart {
  Range rows, cols;
  Shape local;
};

SlotPart slot_part(const WeightSlot& slot) {
  const bool vec = slot.full.size() == 1;
  SlotPart p{{0, vec ? 1 : slot.full[0]}, {0, slot.full.back()}, {}};
  if (slot.split == Split::kDim0) (vec ? p.cols : p.rows) = slot.part;
  if (slot.split == Split::kDim1) p.cols = slot.part;
  p.local = vec ? Shape{p.cols.size()} : Shape{p.rows.size(), p.cols.size()};
  return p;
}

// Every checkpoint tensor this config names, in load order, with where its slice goes; the first
// slot of each stack gets the name and local shape of the tensor its stack fills.
std::vector<WeightSlot> build_slots(const ModelConfig& c, const RankShard& s, int rank) {
  const int64_t d = c.hidden_size, v = c.vocab_size;
  const std::string embed = weight_name(WeightKind::kEmbed);
  // Tied checkpoints have no lm_head.weight; the head is then the embedding table itself.
  const std::string head = c.tie_word_embeddings ? embed : weight_name(WeightKind::kLmHead);
  auto top = [](Tensor ModelWeights::*member, const char* name) {
    HeldTensor t;
    t.top = member;
    t.name = name;
    return t;
  };
  std::vector<WeightSlot> slots;
  slots.push_back({embed, {v, d}, Split::kDim0, s.vocab, top(&ModelWeights::embed, "embed")});  // [vocab_local, d]
  for (int i = 0; i < static_cast<int>(c.num_hidden_layers); ++i) add_layer_slots(c, s, rank, i, slots);
  slots.push_back({weight_name(WeightKind::kFinalNorm), {d}, Split::kReplicated, {},
                   top(&ModelWeights::final_norm, "final_norm")});
  slots.push_back({head, {v, d}, Split::kDim0, s.vocab, top(&ModelWeights::lm_head, "lm_head")});
  for (size_t i = 0; i < slots.size(); i += slots[i].stack) {
    HeldTensor& t = slots[i].dst;
    if (t.layer >= 0) t.name = "layer " + std::to_string(t.layer) + " " + kLayerTensors[t.field].name;
    t.shape = slot_part(slots[i]).local;
    for (int k = 1; k < slots[i].stack; ++k) t.shape[0] += slot_part(slots[i + k]).local[0];
  }
  return slots;
}

void validate_slot(const Checkpoint& ckpt, const WeightSlot& slot) {
  ckpt.expect_shape(slot.name, slot.full);
  const DType t = ckpt.info(slot.name).dtype;
  GQA_CHECK(t == DType::kF32 || t == DType::kF16 || t == DType::kBF16,
            "tensor " << slot.name << " in checkpoint " << ckpt.dir() << " has dtype " << dtype_name(t)
                      << "; weights must be f32, f16 or bf16");
  const int64_t extent = slot.split == Split::kDim1 ? slot.full.at(1) : slot.full.at(0);
  GQA_CHECK(slot.split == Split::kReplicated || (slot.part.begin >= 0 && slot.part.begin <= slot.part.end &&
                                                 slot.part.end <= extent),
            "shard range [" << slot.part.begin << ", " << slot.part.end << ") is outside tensor " << slot.name
                            << " " << shape_str(slot.full));
}

// Reads this rank's part of a slot's stack into the one tensor it fills, through `host` (reused,
// so host memory peaks at one weight).
void load_slots(const Checkpoint& ckpt, const WeightSlot* slot, ModelWeights& w, Ops& ops, std::vector<float>& host) {
  const Shape& local = slot[0].dst.shape;
  host.resize(std::max<size_t>(1, static_cast<size_t>(shape_numel(local))));
  float* at = host.data();
  for (int i = 0; i < slot[0].stack; ++i) {
    const SlotPart p = slot_part(slot[i]);
    ckpt.read_f32(slot[i].name, p.rows, p.cols, at);
    at += shape_numel(p.local);
  }
  Tensor& dst = slot[0].dst.of(w);
  dst = ops.alloc(ops.compute_dtype(), local);
  ops.upload_f32(host.data(), dst);
}

}  // namespace

Tensor& HeldTensor::of(ModelWeights& w) const {
  return const_cast<Tensor&>(of(static_cast<const ModelWeights&>(w)));
}

const Tensor& HeldTensor::of(const ModelWeights& w) const {
  return layer < 0 ? w.*top : w.layers.at(static_cast<size_t>(layer)).*kLayerTensors[field].member;
}

std::vector<HeldTensor> held_tensors(const ModelConfig& config, const RankShard& shard, int rank) {
  std::vector<HeldTensor> out;
  const std::vector<WeightSlot> slots = build_slots(config, shard, rank);
  for (size_t i = 0; i < slots.size(); i += slots[i].stack) {
    if (slots[i].held) out.push_back(slots[i].dst);
  }
  return out;
}

ModelWeights load_weights(const Checkpoint& ckpt, const ModelConfig& config, const ShardPlan& plan, int rank,
                          Ops& ops, const std::function<void(int64_t, int64_t)>& on_progress) {
  check_plan_fits(config, plan, rank);
  const std::vector<WeightSlot> slots = build_slots(config, plan.rank(rank), rank);
  for (const WeightSlot& slot : slots) validate_slot(ckpt, slot);
  // A checkpoint with more layers than the config would otherwise load as a truncated model.
  const std::string extra = weight_name(WeightKind::kAttnNorm, static_cast<int>(config.num_hidden_layers));
  GQA_CHECK(!ckpt.has(extra), "checkpoint " << ckpt.dir() << " has " << extra
                                            << " but the config says num_hidden_layers = " << config.num_hidden_layers);
  ModelWeights w;
  w.layers.resize(static_cast<size_t>(config.num_hidden_layers));
  std::vector<float> host;
  for (size_t i = 0; i < slots.size(); ++i) {
    const int count = slots[i].stack;
    if (slots[i].held) load_slots(ckpt, &slots[i], w, ops, host);
    i += count - 1;
    if (on_progress) on_progress(static_cast<int64_t>(i + 1), static_cast<int64_t>(slots.size()));
  }
  return w;
}

}  // namespace gqa
