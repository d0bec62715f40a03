// load_weights: every tensor name comes from kWeightNames (llama.cpp llama-arch style), every
// split from the ShardPlan. The work is two passes over one list of slots: first validate all
// shapes (so a bad checkpoint fails before anything is allocated on the device), then read each
// rank's slice into a host f32 buffer and upload it, one tensor at a time.
#include "model/weights.h"

#include <algorithm>
#include <cstdio>

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
  Tensor* dst;       // null: validated but not held by this rank
  int stack = 1;     // this slot's slice and the next stack - 1 slots' are stacked by rows into dst
};

// Head ranges in units of rows/columns of the projection matrices.
Range times(Range r, int64_t k) { return {r.begin * k, r.end * k}; }

void add_layer_slots(const ModelConfig& c, const RankShard& s, int rank, int layer, LayerWeights& w,
                     std::vector<WeightSlot>& slots) {
  const int64_t d = c.hidden_size, hd = c.head_dim, f = c.intermediate_size;
  const int64_t q_dim = c.num_attention_heads * hd, kv_dim = c.num_key_value_heads * hd;
  const Range q = times(s.q_heads, hd), kv = times(s.kv_heads, hd);
  auto add = [&](WeightKind k, Shape full, Split split, Range part, Tensor* dst) {
    slots.push_back({weight_name(k, layer), std::move(full), split, part, dst});
  };
  add(WeightKind::kAttnNorm, {d}, Split::kReplicated, {}, &w.attn_norm);
  // q, k and v stacked into one weight (and bias): one GEMM can produce all three.
  add(WeightKind::kWq, {q_dim, d}, Split::kDim0, q, &w.wqkv);
  slots.back().stack = 3;
  add(WeightKind::kWk, {kv_dim, d}, Split::kDim0, kv, &w.wqkv);
  add(WeightKind::kWv, {kv_dim, d}, Split::kDim0, kv, &w.wqkv);
  if (c.qkv_bias) {
    add(WeightKind::kBq, {q_dim}, Split::kDim0, q, &w.bqkv);
    slots.back().stack = 3;
    add(WeightKind::kBk, {kv_dim}, Split::kDim0, kv, &w.bqkv);
    add(WeightKind::kBv, {kv_dim}, Split::kDim0, kv, &w.bqkv);
  }
  add(WeightKind::kWo, {d, q_dim}, Split::kDim1, q, &w.wo);  // [d, hq_local * hd]
  // The o_proj output is summed across ranks by the all-reduce, so exactly one rank adds the bias.
  if (c.o_bias) add(WeightKind::kBo, {d}, Split::kReplicated, {}, rank == 0 ? &w.bo : nullptr);
  add(WeightKind::kMlpNorm, {d}, Split::kReplicated, {}, &w.mlp_norm);
  // gate and up stacked into one [2 f_local, d] weight: one GEMM for both.
  add(WeightKind::kGate, {f, d}, Split::kDim0, s.ffn, &w.w_gate_up);
  slots.back().stack = 2;
  add(WeightKind::kUp, {f, d}, Split::kDim0, s.ffn, &w.w_gate_up);
  add(WeightKind::kDown, {d, f}, Split::kDim1, s.ffn, &w.w_down);  // [d, f_local]
}

std::vector<WeightSlot> build_slots(const ModelConfig& c, const RankShard& s, int rank, ModelWeights& w) {
  const int64_t d = c.hidden_size, v = c.vocab_size;
  const std::string embed = weight_name(WeightKind::kEmbed);
  // Tied checkpoints have no lm_head.weight; the head is then the embedding table itself.
  const std::string head = c.tie_word_embeddings ? embed : weight_name(WeightKind::kLmHead);
  std::vector<WeightSlot> slots;
  slots.push_back({embed, {v, d}, Split::kDim0, s.vocab, &w.embed});  // [vocab_local, d]
  w.layers.resize(static_cast<size_t>(c.num_hidden_layers));  // before taking pointers into it
  for (int i = 0; i < static_cast<int>(c.num_hidden_layers); ++i) add_layer_slots(c, s, rank, i, w.layers[i], slots);
  slots.push_back({weight_name(WeightKind::kFinalNorm), {d}, Split::kReplicated, {}, &w.final_norm});
  slots.push_back({head, {v, d}, Split::kDim0, s.vocab, &w.lm_head});
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

// Reads this rank's part of `count` consecutive slots (stacked by rows) into one tensor,
// through `host` (reused, so host memory peaks at one weight).
void load_slots(const Checkpoint& ckpt, const WeightSlot* slot, int count, Ops& ops, std::vector<float>& host) {
  Shape local = slot_part(slot[0]).local;
  for (int i = 1; i < count; ++i) local[0] += slot_part(slot[i]).local[0];
  host.resize(std::max<size_t>(1, static_cast<size_t>(shape_numel(local))));
  float* at = host.data();
  for (int i = 0; i < count; ++i) {
    const SlotPart p = slot_part(slot[i]);
    ckpt.read_f32(slot[i].name, p.rows, p.cols, at);
    at += shape_numel(p.local);
  }
  *slot[0].dst = ops.alloc(ops.compute_dtype(), local);
  ops.upload_f32(host.data(), *slot[0].dst);
}

}  // namespace

ModelWeights load_weights(const Checkpoint& ckpt, const ModelConfig& config, const ShardPlan& plan, int rank,
                          Ops& ops, const std::function<void(int64_t, int64_t)>& on_progress) {
  check_plan_fits(config, plan, rank);
  ModelWeights w;
  const std::vector<WeightSlot> slots = build_slots(config, plan.rank(rank), rank, w);
  for (const WeightSlot& slot : slots) validate_slot(ckpt, slot);
  // A checkpoint with more layers than the config would otherwise load as a truncated model.
  const std::string extra = weight_name(WeightKind::kAttnNorm, static_cast<int>(config.num_hidden_layers));
  GQA_CHECK(!ckpt.has(extra), "checkpoint " << ckpt.dir() << " has " << extra
                                            << " but the config says num_hidden_layers = " << config.num_hidden_layers);
  std::vector<float> host;
  for (size_t i = 0; i < slots.size(); ++i) {
    const int count = slots[i].stack;
    if (slots[i].dst != nullptr) load_slots(ckpt, &slots[i], count, ops, host);
    i += count - 1;
    if (on_progress) on_progress(static_cast<int64_t>(i + 1), static_cast<int64_t>(slots.size()));
  }
  return w;
}

}  // namespace gqa
