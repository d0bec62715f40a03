// ModelConfig from a Hugging Face config.json.
//
// Accepts both the transformers 4 layout (top-level rope_theta, rope_scaling with "type" or
// "rope_type") and the transformers 5 layout (rope_parameters holding rope_theta and rope_type).
// Anything that would change the math in a way this engine does not implement (MLP biases,
// sliding-window attention, another activation, an unknown RoPE variant) is refused rather than
// silently ignored: a wrong answer is worse than a clear refusal.
#include "model/config.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_limits.h"
#include "core/json_token_ids.h"
#include "core/regular_file.h"
#include "model/rope.h"

namespace gqa {
namespace {

using nlohmann::json;

constexpr const char* kSupportedArchitectures[] = {"LlamaForCausalLM", "MistralForCausalLM",
                                                   "Qwen2ForCausalLM"};
constexpr const char* kSupportedRopeTypes = "default, linear, dynamic, yarn, llama3";


// Field readers: `where` names the file (and the enclosing dict) in every message.
bool present(const json& j, const char* key) { return j.contains(key) && !j.at(key).is_null(); }

int64_t get_int(const json& j, const char* key, const std::string& where) {
  GQA_CHECK(j.contains(key), "missing required field \"" << key << "\" in " << where);
  const json& v = j.at(key);
  GQA_CHECK(v.is_number_integer(), "field \"" << key << "\" in " << where << " must be an integer, got " << json_brief(v));
  return v.get<int64_t>();
}

int64_t get_int_or(const json& j, const char* key, int64_t fallback, const std::string& where) {
  return present(j, key) ? get_int(j, key, where) : fallback;
}

double get_double(const json& j, const char* key, const std::string& where) {
  GQA_CHECK(j.contains(key), "missing required field \"" << key << "\" in " << where);
  const json& v = j.at(key);
  GQA_CHECK(v.is_number(), "field \"" << key << "\" in " << where << " must be a number, got " << json_brief(v));
  return v.get<double>();
}

double get_double_or(const json& j, const char* key, double fallback, const std::string& where) {
  return present(j, key) ? get_double(j, key, where) : fallback;
}

bool get_bool_or(const json& j, const char* key, bool fallback, const std::string& where) {
  if (!present(j, key)) return fallback;
  const json& v = j.at(key);
  GQA_CHECK(v.is_boolean(), "field \"" << key << "\" in " << where << " must be true or false, got " << json_brief(v));
  return v.get<bool>();
}

std::string get_string_or(const json& j, const char* key, const std::string& fallback, const std::string& where) {
  if (!present(j, key)) return fallback;
  const json& v = j.at(key);
  GQA_CHECK(v.is_string(), "field \"" << key << "\" in " << where << " must be a string, got " << json_brief(v));
  return v.get<std::string>();
}

std::string read_architecture(const json& j, const std::string& origin) {
  GQA_CHECK(j.contains("architectures"), "missing required field \"architectures\" in " << origin);
  const json& a = j.at("architectures");
  GQA_CHECK(a.is_array() && !a.empty() && a[0].is_string(),
            "field \"architectures\" in " << origin << " must be a non-empty list of names, got " << json_brief(a));
  const std::string arch = a[0].get<std::string>();
  std::string supported;
  for (const char* s : kSupportedArchitectures) {
    if (arch == s) return arch;
    supported += (supported.empty() ? "" : ", ") + std::string(s);
  }
  GQA_FAIL("unsupported architecture " << arch << " in " << origin << " (supported: " << supported << ")");
}

RopeType parse_rope_type(const std::string& name, const std::string& where) {
  if (name == "default") return RopeType::kDefault;
  if (name == "linear") return RopeType::kLinear;
  if (name == "dynamic") return RopeType::kDynamic;
  if (name == "yarn") return RopeType::kYarn;
  if (name == "llama3") return RopeType::kLlama3;
  GQA_FAIL("unsupported rope_scaling type \"" << name << "\" in " << where << " (supported: " << kSupportedRopeTypes
                                             << ")");
}

// A rope factor is the ratio of the extended context to the original one, and no context here has
// more than INT32_MAX positions; past 2^53, dynamic NTK's factor * len - (factor - 1) would also
// round to 0 (a factor of 1e300 gave NaN logits).
constexpr double kMaxRopeFactor = INT32_MAX;

// Reads one rope dict ({"rope_type"|"type": ..., "factor": ..., ...}); a missing type is "default".
// The ranges are the ones transformers' rope validation states (it only warns) and its formulas
// assume: values outside them pass the parse yet give infinite or NaN frequencies at run time.
RopeScaling parse_rope_dict(const json& r, const std::string& where) {
  for (const auto& [key, value] : r.items()) {
    GQA_CHECK(!value.is_object(), "per-layer-type RoPE parameters (\"" << key << "\") in " << where
                                                                         << " are not supported");
  }
  RopeScaling s;
  const std::string type = get_string_or(r, "rope_type", get_string_or(r, "type", "default", where), where);
  s.type = parse_rope_type(type, where);
  if (s.type == RopeType::kDefault) return s;
  s.factor = get_double(r, "factor", where);
  // Positive and bounded. transformers only warns below 1 ("factor field must be a float or int >=
  // 1"), so a factor in (0, 1) is taken as it does; one so small that a frequency overflows (1e-320)
  // is refused by validate()'s check of the computed table.
  GQA_CHECK(s.factor > 0 && s.factor <= kMaxRopeFactor, "rope factor must be positive and at most "
                                                            << INT32_MAX << " in " << where << ", got "
                                                            << s.factor);
  const bool need_orig = s.type == RopeType::kLlama3;
  s.original_max_position_embeddings =
      need_orig ? get_int(r, "original_max_position_embeddings", where)
                : get_int_or(r, "original_max_position_embeddings", 0, where);
  // 0 stands for "absent" (use max_position_embeddings): one given must be a length.
  GQA_CHECK(s.original_max_position_embeddings > 0 || !present(r, "original_max_position_embeddings"),
            "original_max_position_embeddings must be positive in " << where << ", got "
                                                                    << s.original_max_position_embeddings);
  if (s.type == RopeType::kLlama3) {
    s.low_freq_factor = get_double(r, "low_freq_factor", where);
    s.high_freq_factor = get_double(r, "high_freq_factor", where);
    GQA_CHECK(s.low_freq_factor > 0 && s.high_freq_factor > s.low_freq_factor,
              "llama3 rope needs 0 < low_freq_factor < high_freq_factor in " << where << ", got "
                                                                              << s.low_freq_factor << " and "
                                                                              << s.high_freq_factor);
  }
  if (s.type == RopeType::kYarn) {
    s.beta_fast = get_double_or(r, "beta_fast", s.beta_fast, where);
    s.beta_slow = get_double_or(r, "beta_slow", s.beta_slow, where);
    s.attention_factor = get_double_or(r, "attention_factor", 0.0, where);
    s.mscale = get_double_or(r, "mscale", 0.0, where);
    s.mscale_all_dim = get_double_or(r, "mscale_all_dim", 0.0, where);
    s.truncate = get_bool_or(r, "truncate", true, where);
    // The correction range takes log(original_max_position_embeddings / (2 pi beta)): beta 0 made it
    // infinite, and beta_fast <= beta_slow turns the ramp around.
    GQA_CHECK(s.beta_slow > 0 && s.beta_fast > s.beta_slow, "yarn rope needs beta_fast > beta_slow > 0 in "
                                                                << where << ", got beta_fast " << s.beta_fast
                                                                << " and beta_slow " << s.beta_slow);
    GQA_CHECK(s.attention_factor >= 0,
              "yarn attention_factor must not be negative in " << where << ", got " << s.attention_factor);
  }
  return s;
}

// transformers 5 stores rope_theta and the scaling inside rope_parameters; transformers 4 uses
// a top-level rope_theta and an optional rope_scaling dict. Both may appear: as transformers 5
// (convert_rope_params_to_dict: `rope_scaling or rope_parameters`), a rope_scaling that is not
// empty replaces rope_parameters whole, its rope_theta too (then the top-level one, else 10000).
void read_rope(const json& j, const std::string& origin, ModelConfig& c) {
  c.rope_theta = get_double_or(j, "rope_theta", 10000.0, origin);
  const bool scaling =
      present(j, "rope_scaling") && !(j.at("rope_scaling").is_object() && j.at("rope_scaling").empty());
  const char* dict_key = scaling                            ? "rope_scaling"
                         : present(j, "rope_parameters") ? "rope_parameters"
                                                           : nullptr;
  if (dict_key == nullptr) return;
  const json& r = j.at(dict_key);
  const std::string where = std::string("\"") + dict_key + "\" of " + origin;
  GQA_CHECK(r.is_object(), "field " << where << " must be a dict, got " << json_brief(r));
  c.rope_scaling = parse_rope_dict(r, where);
  c.rope_theta = get_double_or(r, "rope_theta", c.rope_theta, where);
}

// eos_token_id (an id or a list), each in [0, vocab_size): an id outside it would never be sampled,
// and the generation would run to its length limit without saying why. (bos_token_id is read as it
// stands: nothing here uses it, and a model whose BOS lies past its embeddings still runs.)
void read_token_ids(const json& j, const std::string& origin, ModelConfig& c) {
  c.bos_token_id = get_int_or(j, "bos_token_id", -1, origin);
  const json& eos = j.contains("eos_token_id") ? j.at("eos_token_id") : json();
  for (int32_t id : json_token_id_list(eos, c.vocab_size, origin, "eos_token_id", "config.json's vocab_size")) {
    c.eos_token_ids.push_back(id);
  }
}

void read_biases(const json& j, const std::string& origin, ModelConfig& c) {
  GQA_CHECK(!get_bool_or(j, "mlp_bias", false, origin),
            "mlp_bias = true in " << origin << " is not supported (gate/up/down projections without bias only)");
  if (c.architecture == "Qwen2ForCausalLM") {
    c.qkv_bias = true;  // Qwen2 always has q/k/v biases and never an o_proj bias
    c.o_bias = false;
  } else {
    c.qkv_bias = c.o_bias = get_bool_or(j, "attention_bias", false, origin);
  }
}

// Refuses features that would silently change the results if ignored.
void check_unsupported_features(const json& j, const std::string& origin) {
  const std::string act = get_string_or(j, "hidden_act", "silu", origin);
  GQA_CHECK(act == "silu", "hidden_act \"" << act << "\" in " << origin << " is not supported (only silu)");
}

// The window transformers applies (0: none), as its config classes read config.json:
// - Llama has no sliding window (a sliding_window key is ignored);
// - Mistral: sliding_window, null for none, 4096 when absent (MistralConfig's default); it has no
//   use_sliding_window;
// - Qwen2: sliding_window only with use_sliding_window (default false), and only on the layers from
//   max_window_layers (default 28) on: none when that is past the last (unless layer_types says);
// - layer_types (newer transformers write it, and take it as given): a window only where some layer
//   is "sliding_attention".
// gqa applies the window to the whole model (it runs only positions below it; see ModelConfig).
void read_sliding_window(const json& j, const std::string& origin, ModelConfig& c) {
  if (c.architecture == "LlamaForCausalLM") return;
  const bool mistral = c.architecture == "MistralForCausalLM";
  if (!j.contains("sliding_window")) {
    if (mistral) c.sliding_window = 4096;
    return;
  }
  if (!present(j, "sliding_window")) return;  // null
  const bool has_layer_types = j.contains("layer_types") && j.at("layer_types").is_array();
  if (c.architecture == "Qwen2ForCausalLM") {
    if (!get_bool_or(j, "use_sliding_window", false, origin)) return;
    // (max_window_layers decides only where layer_types is absent: newer transformers take the list)
    if (!has_layer_types && get_int_or(j, "max_window_layers", 28, origin) >= c.num_hidden_layers) return;
  }
  if (has_layer_types) {
    const json& types = j.at("layer_types");
    if (std::find(types.begin(), types.end(), json("sliding_attention")) == types.end()) return;
  }
  c.sliding_window = get_int(j, "sliding_window", origin);
  GQA_CHECK(c.sliding_window > 0, "sliding_window must be positive in " << origin << ", got " << c.sliding_window);
}

// Upper bounds of the sizes, far above any released model's (the largest have 126 layers, 128
// heads, head_dim 256, hidden 16384, intermediate 53248, 10M positions) yet small enough that a
// config.json typo is refused here, by name, instead of ending in std::bad_alloc (the per-layer
// array is sized before any tensor is compared with the checkpoint) or in tensor shapes whose
// products overflow int64. vocab_size has its own bound (2^24, model/model.cpp); positions are int32.
constexpr int64_t kMaxLayers = int64_t{1} << 16, kMaxHeads = int64_t{1} << 16, kMaxHeadDim = int64_t{1} << 16;
constexpr int64_t kMaxWidth = int64_t{1} << 24, kMaxPositions = INT32_MAX;

void validate(const std::string& origin, const ModelConfig& c) {
  struct Size {
    const char* name;
    int64_t value, max;
  };
  const Size sizes[] = {
      {"hidden_size", c.hidden_size, kMaxWidth},
      {"intermediate_size", c.intermediate_size, kMaxWidth},
      {"num_hidden_layers", c.num_hidden_layers, kMaxLayers},
      {"num_attention_heads", c.num_attention_heads, kMaxHeads},
      {"num_key_value_heads", c.num_key_value_heads, kMaxHeads},
      {"head_dim", c.head_dim, kMaxHeadDim},
      {"vocab_size", c.vocab_size, INT64_MAX},
      {"max_position_embeddings", c.max_position_embeddings, kMaxPositions},
  };
  for (const auto& [name, value, max] : sizes) {
    GQA_CHECK(value > 0, name << " must be positive in " << origin << ", got " << value);
    GQA_CHECK(value <= max, name << " must be at most " << max << " in " << origin << ", got " << value);
  }
  GQA_CHECK(c.num_attention_heads % c.num_key_value_heads == 0,
            "num_attention_heads (" << c.num_attention_heads << ") is not divisible by num_key_value_heads ("
                                    << c.num_key_value_heads << ") in " << origin);
  GQA_CHECK(c.head_dim % 2 == 0, "head_dim must be even for rotary embeddings in " << origin << ", got " << c.head_dim);
  GQA_CHECK(c.rms_norm_eps > 0, "rms_norm_eps must be positive in " << origin << ", got " << c.rms_norm_eps);
  GQA_CHECK(c.rope_theta > 0, "rope_theta must be positive in " << origin << ", got " << c.rope_theta);
  // The checks above bound each RoPE field; some combinations still overflow (yarn betas so small
  // that the correction range is infinite, an mscale past a float's range, an mscale_all_dim that
  // makes a divisor 0): computed once here, a table that is not finite is refused by name instead
  // of ending in "logits contain NaN". (Dynamic NTK's tables at longer contexts only have a larger
  // base: their frequencies shrink toward 0, they do not become NaN.)
  const RopeFrequencies rope = rope_frequencies(c, 0);
  GQA_CHECK(std::isfinite(rope.attention_scaling) && rope.attention_scaling > 0,
            "the RoPE parameters in " << origin << " give an attention scaling of " << rope.attention_scaling
                                      << " (it must be finite and positive)");
  for (size_t i = 0; i < rope.inv_freq.size(); ++i) {
    GQA_CHECK(std::isfinite(rope.inv_freq[i]), "the RoPE parameters in " << origin << " (rope_theta " << c.rope_theta
                                                                         << ", head_dim " << c.head_dim
                                                                         << ") give a rotary frequency of "
                                                                         << rope.inv_freq[i] << " (index " << i << ")");
  }
}

}  // namespace

void ModelConfig::validate(const std::string& origin) const { gqa::validate(origin, *this); }

ModelConfig ModelConfig::from_json_text(const std::string& text, const std::string& origin) {
  const json j = parse_json(text, origin);
  GQA_CHECK(j.is_object(), "config " << origin << " must hold a JSON object");
  ModelConfig c;
  c.architecture = read_architecture(j, origin);
  c.model_type = get_string_or(j, "model_type", "", origin);
  c.hidden_size = get_int(j, "hidden_size", origin);
  c.intermediate_size = get_int(j, "intermediate_size", origin);
  c.num_hidden_layers = get_int(j, "num_hidden_layers", origin);
  c.num_attention_heads = get_int(j, "num_attention_heads", origin);
  c.num_key_value_heads = get_int_or(j, "num_key_value_heads", c.num_attention_heads, origin);
  c.vocab_size = get_int(j, "vocab_size", origin);
  c.rms_norm_eps = get_double(j, "rms_norm_eps", origin);
  c.max_position_embeddings = get_int_or(j, "max_position_embeddings", c.max_position_embeddings, origin);
  GQA_CHECK(c.num_attention_heads > 0, "num_attention_heads must be positive in " << origin);
  if (present(j, "head_dim")) {
    c.head_dim = get_int(j, "head_dim", origin);
  } else {
    GQA_CHECK(c.hidden_size % c.num_attention_heads == 0,
              "hidden_size (" << c.hidden_size << ") is not divisible by num_attention_heads ("
                              << c.num_attention_heads << ") and head_dim is absent in " << origin);
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  c.tie_word_embeddings = get_bool_or(j, "tie_word_embeddings", false, origin);
  c.torch_dtype = get_string_or(j, "dtype", get_string_or(j, "torch_dtype", "", origin), origin);
  read_rope(j, origin, c);
  read_biases(j, origin, c);
  check_unsupported_features(j, origin);
  read_sliding_window(j, origin, c);
  c.validate(origin);
  read_token_ids(j, origin, c);  // after validate: the ids are checked against a valid vocab_size
  return c;
}

// `path` is config.json itself or the checkpoint directory holding it. A folder named config.json
// is not taken for the checkpoint directory: gqa-generate passes DIR/config.json, and when that is
// a folder the message names it, not DIR/config.json/config.json.
std::string ModelConfig::read_json_text(const std::string& path, std::string* file_out) {
  namespace fs = std::filesystem;
  fs::path given = fs::path(path);
  if (!given.has_filename()) given = given.parent_path();  // ("DIR/config.json/")
  std::string file = path;
  if (fs::is_directory(given) && given.filename() != "config.json") file = (given / "config.json").string();
  GQA_CHECK(!fs::is_directory(file), "model config " << file << " is a folder, not a JSON file");
  // A FIFO or a device (config.json -> /dev/zero) is refused by name, a huge file by its size.
  std::string text = read_json_file_text(file, "model config");
  if (file_out != nullptr) *file_out = file;
  return text;
}

void ModelConfig::check_within_sliding_window(int64_t last_position, const std::string& what) const {
  GQA_CHECK(sliding_window == 0 || last_position < sliding_window,
            what << " reaches position " << last_position << ", past this model's sliding window (sliding_window "
                 << sliding_window << " in config.json): gqa does not implement sliding-window attention, which "
                 << "matches full attention only within the window");
}

ModelConfig ModelConfig::from_file(const std::string& path) {
  std::string file;
  const std::string text = read_json_text(path, &file);
  return from_json_text(text, file);
}

}  // namespace gqa
