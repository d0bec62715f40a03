// ModelConfig: the fields of a Hugging Face config.json that a Llama-family decoder needs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "parallel/shard_plan.h"

namespace gqa {

enum class RopeType { kDefault, kLinear, kDynamic, kYarn, kLlama3 };

struct RopeScaling {
  RopeType type = RopeType::kDefault;
  double factor = 1.0;
  int64_t original_max_position_embeddings = 0;  // 0 = use max_position_embeddings
  // llama3
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  // yarn
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double attention_factor = 0.0;  // 0 = derive from factor (0.1 * ln(factor) + 1)
  double mscale = 0.0;
  double mscale_all_dim = 0.0;
  bool truncate = true;
};

struct ModelConfig {
  std::string architecture;   // "LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM"
  std::string model_type;     // "llama", "qwen2", "mistral"
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // absent in config.json = num_attention_heads (MHA)
  int64_t head_dim = 0;             // absent = hidden_size / num_attention_heads
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 2048;
  // Sliding-window attention as transformers applies it (Mistral v0.1: 4096; Qwen2 with
  // use_sliding_window; see read_sliding_window in config.cpp), which gqa does not implement: below
  // it full causal attention gives the same result, so positions [0, window) run and a later one is
  // refused (check_within_sliding_window: Model::forward, Generator::generate, gqa-generate before
  // it loads). 0: none.
  int64_t sliding_window = 0;
  int64_t vocab_size = 0;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // Qwen2 always; Llama when attention_bias
  bool o_bias = false;    // Llama attention_bias only
  std::vector<int64_t> eos_token_ids;
  int64_t bos_token_id = -1;
  std::string torch_dtype;  // as stored in config ("float32", "bfloat16", ...), informational

  // The checks from_json_text makes of the values (sizes positive and bounded, eps and theta
  // positive, a finite RoPE table, ...), for a config edited or made in code; throws gqa::Error
  // naming `origin` and the field.
  void validate(const std::string& origin) const;

  // That positions up to `last_position` are within the sliding window, if there is one: gqa runs
  // full attention, which gives the same result only there. Throws gqa::Error beginning with
  // `what` (what reaches that position).
  void check_within_sliding_window(int64_t last_position, const std::string& what) const;

  // What tensor parallelism splits (ShardPlan::make's dims): heads, KV heads, FFN width, vocab.
  ShardDims shard_dims() const { return {num_attention_heads, num_key_value_heads, intermediate_size, vocab_size}; }

  // Reads and validates DIR/config.json; throws gqa::Error naming the file and field.
  static ModelConfig from_file(const std::string& path);
  static ModelConfig from_json_text(const std::string& text, const std::string& origin);
  // from_file's reading half: the text of `path` (a config.json, or a folder holding one), and the
  // file it read into *file when given; throws gqa::Error naming the file, for one that is not a
  // regular file (a FIFO, /dev/zero) or is larger than 64 MiB too.
  static std::string read_json_text(const std::string& path, std::string* file = nullptr);
};

}  // namespace gqa
