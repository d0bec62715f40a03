#include "launch/gqa_bench/random_model.h"

#include <cmath>
#include <sstream>

#include "launch/gqa_bench/timing.h"

namespace gqa::bench {
namespace {

ModelConfig llama3_base() {
  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.model_type = "llama";
  c.head_dim = 128;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 500000.0;
  c.rope_scaling.type = RopeType::kLlama3;
  c.rope_scaling.factor = 8.0;
  c.rope_scaling.low_freq_factor = 1.0;
  c.rope_scaling.high_freq_factor = 4.0;
  c.rope_scaling.original_max_position_embeddings = 8192;
  c.max_position_embeddings = 131072;
  c.torch_dtype = "bfloat16";
  return c;
}

struct Filler {
  Ops& ops;
  cudaStream_t stream;
  uint32_t seed;
  // A [rows, cols] matrix read as y = x W^T: fan-in is cols.
  Tensor matrix(int64_t rows, int64_t cols) {
    Tensor t = ops.alloc(ops.compute_dtype(), {rows, cols});
    fill_uniform(t, seed++, 1.0f / std::sqrt(static_cast<float>(cols)), 0.0f, stream);
    return t;
  }
  Tensor norm(int64_t d) {
    Tensor t = ops.alloc(ops.compute_dtype(), {d});
    fill_uniform(t, seed++, 0.1f, 1.0f, stream);
    return t;
  }
};

}  // namespace

ModelConfig llama70b_shard_config(int64_t kv_heads_local, int64_t layers) {
  ModelConfig c = llama3_base();
  c.hidden_size = 8192;
  c.num_attention_heads = 64 / kShardRanks;  // 8 query heads per rank
  c.num_key_value_heads = kv_heads_local;
  c.intermediate_size = 28672 / kShardRanks;  // 3584
  c.vocab_size = 128256 / kShardRanks;        // 16032
  c.num_hidden_layers = layers;
  return c;
}

ModelConfig llama8b_config(int64_t layers) {
  ModelConfig c = llama3_base();
  c.hidden_size = 4096;
  c.num_attention_heads = 32;
  c.num_key_value_heads = 8;
  c.intermediate_size = 14336;
  c.vocab_size = 128256;
  c.num_hidden_layers = layers;
  return c;
}

ShardPlan single_rank_plan(const ModelConfig& c) {
  return ShardPlan::make(c.shard_dims(), 1);
}

ModelWeights random_weights(const ModelConfig& c, Ops& ops, void* stream, uint32_t seed) {
  const int64_t d = c.hidden_size, hd = c.head_dim, f = c.intermediate_size;
  const int64_t q_dim = c.num_attention_heads * hd, kv_dim = c.num_key_value_heads * hd;
  Filler fill{ops, static_cast<cudaStream_t>(stream), seed};
  ModelWeights w;
  w.embed = ops.alloc(ops.compute_dtype(), {c.vocab_size, d});
  fill_uniform(w.embed, fill.seed++, 1.0f, 0.0f, fill.stream);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    LayerWeights lw;
    lw.attn_norm = fill.norm(d);
    lw.wqkv = fill.matrix(q_dim + 2 * kv_dim, d);  // [(hq + 2 hkv) * hd, d]: q rows, k rows, v rows
    lw.wo = fill.matrix(d, q_dim);   // [d, hq * hd]
    lw.mlp_norm = fill.norm(d);
    lw.w_gate_up = fill.matrix(2 * f, d);  // [2f, d]: gate rows then up rows
    lw.w_down = fill.matrix(d, f);   // [d, f]
    w.layers.push_back(lw);
  }
  w.final_norm = fill.norm(d);
  w.lm_head = fill.matrix(c.vocab_size, d);
  ops.synchronize();
  return w;
}

double weight_bytes(const ModelWeights& w) {
  double b = static_cast<double>(w.embed.nbytes() + w.final_norm.nbytes() + w.lm_head.nbytes());
  for (const LayerWeights& l : w.layers) {
    for (const LayerTensor& f : kLayerTensors) {
      if ((l.*f.member).defined()) b += static_cast<double>((l.*f.member).nbytes());
    }
  }
  return b;
}

double step_weight_bytes(const ModelWeights& w, int64_t batch) {
  const double row = static_cast<double>(w.embed.nbytes()) / static_cast<double>(w.embed.dim(0));
  return weight_bytes(w) - static_cast<double>(w.embed.nbytes()) + row * static_cast<double>(batch);
}

double layer_matmul_params(const ModelConfig& c) {
  const double d = c.hidden_size, hd = c.head_dim, f = c.intermediate_size;
  const double per_layer = d * hd * (2.0 * c.num_attention_heads + 2.0 * c.num_key_value_heads) + 3.0 * d * f;
  return per_layer * static_cast<double>(c.num_hidden_layers);
}

double lm_head_params(const ModelConfig& c) { return static_cast<double>(c.vocab_size) * c.hidden_size; }

double kv_bytes_per_token(const ModelConfig& c) {
  return 2.0 * c.num_hidden_layers * c.num_key_value_heads * c.head_dim * 2.0;
}

std::string describe(const ModelConfig& c) {
  std::ostringstream os;
  os << c.num_hidden_layers << " layers, hidden " << c.hidden_size << ", " << c.num_attention_heads << " q / "
     << c.num_key_value_heads << " kv heads x " << c.head_dim << ", FFN " << c.intermediate_size << ", vocab "
     << c.vocab_size;
  return os.str();
}

}  // namespace gqa::bench
