// ModelConfig: parsing of Hugging Face config.json (transformers 4 and 5 layouts) and refusals.
#include "model/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "core/error.h"
#include "safetensors_writer.h"
#include "tests/support/expect_error.h"

namespace gqa {
namespace {

// A minimal valid Llama config with `extra` spliced in (later keys override earlier ones in
// nlohmann's parser, so tests append the field they want to change).
std::string llama_json(const std::string& extra = "") {
  std::string j = R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 2,
    "rms_norm_eps": 1e-5, "vocab_size": 100, "max_position_embeddings": 256)";
  if (!extra.empty()) j += ", " + extra;
  return j + "}";
}

ModelConfig parse(const std::string& extra) { return ModelConfig::from_json_text(llama_json(extra), "test.json"); }

using test::expect_error;

TEST(Config, MinimalLlamaDefaults) {
  const ModelConfig c = parse("");
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 8);  // hidden / heads when absent
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.rope_scaling.type, RopeType::kDefault);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_FALSE(c.o_bias);
  EXPECT_TRUE(c.eos_token_ids.empty());
  EXPECT_EQ(c.bos_token_id, -1);
}

TEST(Config, OptionalFields) {
  EXPECT_EQ(parse(R"("head_dim": null)").head_dim, 8);
  EXPECT_EQ(parse(R"("head_dim": 32)").head_dim, 32);
  const std::string no_kv = R"({"architectures": ["MistralForCausalLM"], "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 4, "rms_norm_eps": 1e-5,
    "vocab_size": 10})";
  EXPECT_EQ(ModelConfig::from_json_text(no_kv, "m.json").num_key_value_heads, 4);  // MHA
  const ModelConfig c = parse(R"("eos_token_id": [2, 7], "bos_token_id": 1, "tie_word_embeddings": true,
    "torch_dtype": "bfloat16", "rope_theta": 500000.0)");
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2, 7}));
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(parse(R"("eos_token_id": 5)").eos_token_ids, (std::vector<int64_t>{5}));
  EXPECT_EQ(parse(R"("dtype": "float16")").torch_dtype, "float16");
}

// EOS ids outside [0, vocab_size) (100 here) are refused by name: an EOS id that can never be
// sampled would let a generation run to its length limit without a word.
TEST(Config, TokenIdsMustBeInTheVocabulary) {
  EXPECT_EQ(parse(R"("eos_token_id": null, "bos_token_id": null)").eos_token_ids, std::vector<int64_t>{});
  EXPECT_EQ(parse(R"("eos_token_id": [0, 99])").eos_token_ids, (std::vector<int64_t>{0, 99}));
  expect_error([] { parse(R"("eos_token_id": 100)"); }, {"test.json", "eos_token_id = 100 is not a token id", "0 to 99"});
  expect_error([] { parse(R"("eos_token_id": [2, -1])"); }, {"eos_token_id[1] = -1"});
  expect_error([] { parse(R"("eos_token_id": [2, 7.5])"); }, {"eos_token_id[1] = 7.5"});
  expect_error([] { parse(R"("eos_token_id": 4294967298)"); }, {"eos_token_id = 4294967298"});
  // ids are int32 wherever they are used: past 2^31 - 1 refused even under a larger vocab_size
  expect_error([] { parse(R"("vocab_size": 5000000000, "eos_token_id": 4294967298)"); },
               {"eos_token_id = 4294967298", "0 to 2147483647"});
  expect_error([] { parse(R"("eos_token_id": "2")"); }, {"eos_token_id = \"2\""});
  EXPECT_EQ(parse(R"("bos_token_id": 100)").bos_token_id, 100);  // (unused: read as it stands)
  // A bad vocab_size is named as such, not as an id past it.
  expect_error([] { parse(R"("vocab_size": 0, "eos_token_id": 2)"); }, {"vocab_size"});
}

TEST(Config, Biases) {
  const ModelConfig llama = parse(R"("attention_bias": true)");
  EXPECT_TRUE(llama.qkv_bias);
  EXPECT_TRUE(llama.o_bias);
  const ModelConfig qwen = parse(R"("architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2")");
  EXPECT_TRUE(qwen.qkv_bias);
  EXPECT_FALSE(qwen.o_bias);
  expect_error([] { parse(R"("mlp_bias": true)"); }, {"mlp_bias", "test.json"});
}

TEST(Config, RopeScalingTypes) {
  const ModelConfig linear = parse(R"("rope_scaling": {"type": "linear", "factor": 4.0})");
  EXPECT_EQ(linear.rope_scaling.type, RopeType::kLinear);
  EXPECT_DOUBLE_EQ(linear.rope_scaling.factor, 4.0);

  const ModelConfig dyn = parse(R"("rope_scaling": {"rope_type": "dynamic", "factor": 2.0})");
  EXPECT_EQ(dyn.rope_scaling.type, RopeType::kDynamic);
  EXPECT_DOUBLE_EQ(dyn.rope_scaling.factor, 2.0);

  const ModelConfig yarn = parse(R"("rope_scaling": {"rope_type": "yarn", "factor": 4.0,
    "original_max_position_embeddings": 64, "beta_fast": 16, "beta_slow": 2, "attention_factor": 1.5,
    "mscale": 0.7, "mscale_all_dim": 0.3, "truncate": false})");
  EXPECT_EQ(yarn.rope_scaling.type, RopeType::kYarn);
  EXPECT_EQ(yarn.rope_scaling.original_max_position_embeddings, 64);
  EXPECT_DOUBLE_EQ(yarn.rope_scaling.beta_fast, 16.0);
  EXPECT_DOUBLE_EQ(yarn.rope_scaling.beta_slow, 2.0);
  EXPECT_DOUBLE_EQ(yarn.rope_scaling.attention_factor, 1.5);
  EXPECT_DOUBLE_EQ(yarn.rope_scaling.mscale, 0.7);
  EXPECT_DOUBLE_EQ(yarn.rope_scaling.mscale_all_dim, 0.3);
  EXPECT_FALSE(yarn.rope_scaling.truncate);
  const ModelConfig yarn_defaults = parse(R"("rope_scaling": {"rope_type": "yarn", "factor": 4.0})");
  EXPECT_EQ(yarn_defaults.rope_scaling.original_max_position_embeddings, 0);
  EXPECT_DOUBLE_EQ(yarn_defaults.rope_scaling.beta_fast, 32.0);
  EXPECT_DOUBLE_EQ(yarn_defaults.rope_scaling.attention_factor, 0.0);
  EXPECT_TRUE(yarn_defaults.rope_scaling.truncate);
  // transformers' defaults for the fields left out: beta_slow 1 (it sets the ramp's upper end), and
  // no mscale / mscale_all_dim (0 here: with either missing the scaling is 0.1 ln(factor) + 1).
  // (Mutation testing: a beta_slow default of 2, or an mscale(_all_dim) default of 1, passed.)
  EXPECT_DOUBLE_EQ(yarn_defaults.rope_scaling.beta_slow, 1.0);
  EXPECT_DOUBLE_EQ(yarn_defaults.rope_scaling.mscale, 0.0);
  EXPECT_DOUBLE_EQ(yarn_defaults.rope_scaling.mscale_all_dim, 0.0);

  const ModelConfig l3 = parse(R"("rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
    "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})");
  EXPECT_EQ(l3.rope_scaling.type, RopeType::kLlama3);
  EXPECT_DOUBLE_EQ(l3.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(l3.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(l3.rope_scaling.original_max_position_embeddings, 8192);

  EXPECT_EQ(parse(R"("rope_scaling": null)").rope_scaling.type, RopeType::kDefault);
  EXPECT_EQ(parse(R"("rope_scaling": {"rope_type": "default"})").rope_scaling.type, RopeType::kDefault);
}

// transformers 5 moves rope_theta into rope_parameters, next to the scaling fields.
TEST(Config, RopeParametersDict) {
  const ModelConfig c = parse(R"("rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e6})");
  EXPECT_EQ(c.rope_scaling.type, RopeType::kLinear);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 2.0);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  const ModelConfig d = parse(R"("rope_theta": 123.0, "rope_parameters": {"rope_type": "default"})");
  EXPECT_DOUBLE_EQ(d.rope_theta, 123.0);
}

// Both dicts: transformers 5 takes a non-empty rope_scaling whole (`rope_scaling or rope_parameters`),
// rope_parameters' rope_theta included; an empty one is ignored.
TEST(Config, RopeScalingBesideRopeParametersWinsAsInTransformers) {
  const ModelConfig c = parse(R"("rope_theta": 500.0, "rope_parameters": {"rope_type": "default", "rope_theta": 1e6},
                                 "rope_scaling": {"rope_type": "linear", "factor": 4.0})");
  EXPECT_EQ(c.rope_scaling.type, RopeType::kLinear);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 4.0);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500.0);
  const ModelConfig d = parse(R"("rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e6},
                                 "rope_scaling": {})");
  EXPECT_EQ(d.rope_scaling.type, RopeType::kLinear);
  EXPECT_DOUBLE_EQ(d.rope_theta, 1e6);
}

TEST(Config, RopeErrors) {
  expect_error([] { parse(R"("rope_scaling": {"rope_type": "longrope", "factor": 2.0})"); },
               {"longrope", "test.json", "supported"});
  expect_error([] { parse(R"("rope_scaling": {"rope_type": "linear"})"); }, {"factor", "test.json"});
  expect_error([] { parse(R"("rope_scaling": {"rope_type": "llama3", "factor": 8.0})"); },
               {"original_max_position_embeddings", "test.json"});
  // llama3 needs both band factors (transformers reads them without a default): a missing one is
  // refused by name, not taken as 1 or 4. (Mutation testing: a default low_freq_factor of 1 passed.)
  expect_error([] { parse(R"("rope_scaling": {"rope_type": "llama3", "factor": 8.0, "high_freq_factor": 4.0,
                                               "original_max_position_embeddings": 64})"); },
               {"low_freq_factor", "test.json"});
  expect_error([] { parse(R"("rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                               "original_max_position_embeddings": 64})"); },
               {"high_freq_factor", "test.json"});
  expect_error([] { parse(R"("rope_scaling": "linear")"); }, {"rope_scaling", "dict"});
  expect_error([] { parse(R"("rope_parameters": {"full_attention": {"rope_type": "default"}})"); },
               {"full_attention", "test.json"});
}

// The ranges transformers' rope validation states (factor > 0, beta_fast > beta_slow, ...): found
// by fuzzing, values outside them passed the parse and gave "logits contain NaN" at token 0.
TEST(Config, RopeRangesRefusedByName) {
  auto rope = [](const std::string& dict) { return parse(R"("rope_scaling": )" + dict); };
  expect_error([] { parse(R"("rope_parameters": {"rope_type": "linear", "factor": 0})"); },
               {"rope factor must be positive", "rope_parameters", "test.json"});
  expect_error([&] { rope(R"({"rope_type": "linear", "factor": -2})"); }, {"factor", "positive"});
  // Below 1 transformers only warns, and so a factor of 0.5 is taken; 1e-320 overflows the table.
  EXPECT_NO_THROW(rope(R"({"rope_type": "linear", "factor": 0.5})"));
  expect_error([] { parse(R"("rope_parameters": {"rope_type": "linear", "factor": 1e-320})"); },
               {"RoPE parameters in test.json", "rotary frequency"});
  expect_error([&] { rope(R"({"rope_type": "dynamic", "factor": 1e300})"); },
               {"factor", "at most 2147483647", "1e+300"});
  expect_error([&] { rope(R"({"rope_type": "yarn", "factor": 1e300})"); }, {"factor", "at most"});
  // A number past a double's range is refused by the parser (not read as infinity), naming the file.
  expect_error([&] { rope(R"({"rope_type": "linear", "factor": 1e400})"); }, {"malformed JSON in test.json", "1e400"});
  expect_error([&] { rope(R"({"rope_type": "yarn", "factor": 4, "beta_fast": 0})"); },
               {"beta_fast > beta_slow > 0", "beta_fast 0", "test.json"});
  expect_error([&] { rope(R"({"rope_type": "yarn", "factor": 4, "beta_fast": 1, "beta_slow": 2})"); },
               {"beta_fast > beta_slow"});
  expect_error([&] { rope(R"({"rope_type": "yarn", "factor": 4, "beta_slow": -1})"); }, {"beta_slow -1"});
  expect_error([&] { rope(R"({"rope_type": "yarn", "factor": 4, "attention_factor": -1})"); },
               {"attention_factor", "negative"});
  expect_error([&] { rope(R"({"rope_type": "yarn", "factor": 4, "original_max_position_embeddings": 0})"); },
               {"original_max_position_embeddings must be positive"});
  expect_error([&] { rope(R"({"rope_type": "llama3", "factor": 8, "low_freq_factor": 1, "high_freq_factor": 1,
                              "original_max_position_embeddings": 64})"); },
               {"low_freq_factor < high_freq_factor"});
  expect_error([&] { rope(R"({"rope_type": "llama3", "factor": 8, "low_freq_factor": 0, "high_freq_factor": 4,
                              "original_max_position_embeddings": 64})"); },
               {"0 < low_freq_factor"});
  // Fields each within range whose table still overflows: refused once computed, by name.
  expect_error([&] { rope(R"({"rope_type": "yarn", "factor": 4, "beta_fast": 1e-310, "beta_slow": 1e-315})"); },
               {"RoPE parameters in test.json", "rotary frequency"});
  expect_error([&] { rope(R"({"rope_type": "yarn", "factor": 4, "mscale": -100, "mscale_all_dim": 1})"); },
               {"RoPE parameters in test.json", "attention scaling of -11"});
  // The edges of the ranges, and the values real models use, parse.
  EXPECT_NO_THROW(rope(R"({"rope_type": "linear", "factor": 1})"));
  EXPECT_NO_THROW(rope(R"({"rope_type": "dynamic", "factor": 2147483647})"));
  EXPECT_NO_THROW(rope(R"({"rope_type": "yarn", "factor": 40, "beta_fast": 32, "beta_slow": 1, "mscale": 1.0,
                           "mscale_all_dim": 1.0, "original_max_position_embeddings": 4096})"));
  EXPECT_NO_THROW(rope(R"({"rope_type": "yarn", "factor": 4, "original_max_position_embeddings": null})"));
  EXPECT_NO_THROW(rope(R"({"rope_type": "llama3", "factor": 32, "low_freq_factor": 1, "high_freq_factor": 4,
                           "original_max_position_embeddings": 8192})"));
}

// Found by fuzzing: a field nested 100,000 deep ("hidden_size": [[[...]]]) crashed (SIGSEGV) in the
// recursive dump() of the error message, and a key nested 10,000 deep took gqa-generate 6 s and
// 3.4 GB. config.json is parsed with a nesting limit, and messages quote at most 80 characters.
TEST(Config, DeepOrHugeValues) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  expect_error([&] { parse(R"("hidden_size": )" + deep); }, {"test.json", "nested more than 64 levels"});
  std::string deep_key;
  for (int i = 0; i < 10000; ++i) deep_key += R"({"a": )";
  deep_key += "1" + std::string(10000, '}');
  expect_error([&] { parse(R"("x": )" + deep_key); }, {"test.json", "nested more than 64 levels"});
  EXPECT_NO_THROW(parse(R"("x": )" + std::string(60, '[') + std::string(60, ']')));  // within the limit
  std::string list = "[1";
  for (int i = 0; i < 100000; ++i) list += ", 1";
  list += "]";
  try {
    parse(R"("hidden_size": )" + list);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("hidden_size"), std::string::npos) << what;
    EXPECT_NE(what.find("got [1,1,1"), std::string::npos) << what;
    EXPECT_NE(what.find("(array, "), std::string::npos) << what;
    EXPECT_LT(what.size(), 300u) << what;
  }
}

// Found by fuzzing: config.json a FIFO hung the run, and config.json -> /dev/zero was read without
// end. Anything but a regular file is refused by name, and a file larger than 64 MiB by its size.
TEST(Config, NotARegularOrTooLargeFileRefused) {
  test::TempDir dir;
  ASSERT_EQ(::mkfifo(dir.file("config.json").c_str(), 0600), 0);
  expect_error([&] { ModelConfig::from_file(dir.path()); }, {dir.file("config.json"), "a FIFO", "not a regular file"});
  test::TempDir zero;
  std::filesystem::create_symlink("/dev/zero", zero.file("config.json"));
  expect_error([&] { ModelConfig::from_file(zero.path()); },
               {zero.file("config.json"), "character device", "not a regular file"});
  test::TempDir big;
  test::write_text(big.file("config.json"), llama_json());
  std::filesystem::resize_file(big.file("config.json"), (uint64_t{64} << 20) + 1);  // sparse: nothing written
  expect_error([&] { ModelConfig::from_file(big.path()); }, {big.file("config.json"), "larger than the 64 MiB"});
  std::string at_limit = llama_json();
  at_limit.resize(size_t{64} << 20, ' ');
  test::write_text(big.file("config.json"), at_limit);
  EXPECT_EQ(ModelConfig::from_file(big.path()).hidden_size, 64);
}

TEST(Config, RequiredFieldsNamed) {
  for (const char* field : {"architectures", "hidden_size", "intermediate_size", "num_hidden_layers",
                            "num_attention_heads", "vocab_size", "rms_norm_eps"}) {
    const std::string key = field;
    std::string j = llama_json();
    const size_t at = j.find('"' + key + '"');
    ASSERT_NE(at, std::string::npos) << field;
    j.insert(at + 1, "x_");  // rename the key away
    expect_error([&] { ModelConfig::from_json_text(j, "cfg.json"); }, {field, "cfg.json", "missing"});
  }
}

TEST(Config, Malformed) {
  expect_error([] { ModelConfig::from_json_text("{\"hidden_size\": 64,", "bad.json"); }, {"bad.json", "JSON"});
  expect_error([] { ModelConfig::from_json_text("[1, 2]", "arr.json"); }, {"arr.json"});
  expect_error([] { parse(R"("hidden_size": "64")"); }, {"hidden_size", "integer", "test.json"});
  expect_error([] { parse(R"("tie_word_embeddings": 1)"); }, {"tie_word_embeddings", "test.json"});
}

TEST(Config, Refusals) {
  expect_error([] { parse(R"("architectures": ["GPT2LMHeadModel"])"); },
               {"unsupported architecture GPT2LMHeadModel", "test.json", "LlamaForCausalLM"});
  expect_error([] { parse(R"("num_key_value_heads": 3)"); },
               {"num_attention_heads (8)", "num_key_value_heads (3)", "test.json"});
  expect_error([] { parse(R"("hidden_size": 0)"); }, {"hidden_size", "positive", "test.json"});
  expect_error([] { parse(R"("num_key_value_heads": -2)"); }, {"num_key_value_heads", "test.json"});
  expect_error([] { parse(R"("hidden_size": 60)"); }, {"hidden_size (60)", "num_attention_heads (8)"});
  expect_error([] { parse(R"("hidden_act": "gelu")"); }, {"gelu", "test.json"});
}

// sliding_window as transformers' config classes read it (Model::forward and gqa-generate refuse
// positions past it): Llama has none, Mistral 4096 when absent, Qwen2 only with use_sliding_window
// and a layer from max_window_layers on, and a layer_types list only with a sliding layer.
TEST(Config, SlidingWindow) {
  const std::string mistral = R"("architectures": ["MistralForCausalLM"], "model_type": "mistral")";
  const std::string qwen2 = R"("architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2")";  // (2 layers)
  EXPECT_EQ(parse("").sliding_window, 0);
  EXPECT_EQ(parse(R"("sliding_window": 128)").sliding_window, 0);  // Llama: none
  EXPECT_EQ(parse(mistral).sliding_window, 4096);
  EXPECT_EQ(parse(mistral + R"(, "sliding_window": 128)").sliding_window, 128);
  EXPECT_EQ(parse(mistral + R"(, "sliding_window": 128, "use_sliding_window": false)").sliding_window, 128);
  EXPECT_EQ(parse(mistral + R"(, "sliding_window": null)").sliding_window, 0);
  EXPECT_EQ(parse(qwen2 + R"(, "sliding_window": 128)").sliding_window, 0);
  EXPECT_EQ(parse(qwen2 + R"(, "sliding_window": 128, "use_sliding_window": true)").sliding_window, 0);  // 28 >= 2
  EXPECT_EQ(parse(qwen2 + R"(, "sliding_window": 128, "use_sliding_window": true, "max_window_layers": 1)")
                .sliding_window,
            128);
  // max_window_layers equal to the layer count: sliding layers would start at layer 2 of 0..1, none.
  EXPECT_EQ(parse(qwen2 + R"(, "sliding_window": 128, "use_sliding_window": true, "max_window_layers": 2)")
                .sliding_window,
            0);
  EXPECT_EQ(parse(qwen2 + R"(, "sliding_window": 128, "use_sliding_window": true, "max_window_layers": 28, )"
                         R"("layer_types": ["full_attention", "sliding_attention"])")
                .sliding_window,
            128);  // (the list, not max_window_layers)
  EXPECT_EQ(parse(mistral + R"(, "sliding_window": 128, "layer_types": ["full_attention", "full_attention"])")
                .sliding_window,
            0);
  EXPECT_EQ(parse(mistral + R"(, "sliding_window": 128, "layer_types": ["full_attention", "sliding_attention"])")
                .sliding_window,
            128);
  // Qwen2's use_sliding_window defaults to false: without it neither max_window_layers nor a
  // sliding layer in layer_types gives a window. (Mutation testing: a default of true passed.)
  EXPECT_EQ(parse(qwen2 + R"(, "sliding_window": 128, "max_window_layers": 1)").sliding_window, 0);
  EXPECT_EQ(parse(qwen2 + R"(, "sliding_window": 128, "layer_types": ["full_attention", "sliding_attention"])")
                .sliding_window,
            0);
  expect_error([&] { parse(mistral + R"(, "sliding_window": 0)"); }, {"sliding_window must be positive", "test.json"});
  expect_error([&] { parse(mistral + R"(, "sliding_window": "4096")"); }, {"sliding_window", "test.json"});
}

// Sizes far past any model's are refused by name before anything is sized from them (1e12 layers
// ended in std::bad_alloc); the largest allowed parse.
TEST(Config, UpperBounds) {
  expect_error([] { parse(R"("num_hidden_layers": 1000000000000)"); },
               {"num_hidden_layers must be at most 65536", "test.json", "1000000000000"});
  expect_error([] { parse(R"("intermediate_size": 33554432)"); }, {"intermediate_size must be at most 16777216"});
  expect_error([] { parse(R"("max_position_embeddings": 4294967296)"); }, {"max_position_embeddings", "at most"});
  EXPECT_EQ(parse(R"("num_hidden_layers": 65536)").num_hidden_layers, 65536);
}

TEST(Config, FromFileAndDirectory) {
  test::TempDir dir;
  test::write_text(dir.file("config.json"), llama_json());
  EXPECT_EQ(ModelConfig::from_file(dir.file("config.json")).hidden_size, 64);
  EXPECT_EQ(ModelConfig::from_file(dir.path()).hidden_size, 64);
  expect_error([&] { ModelConfig::from_file(dir.file("nope.json")); }, {"nope.json", "does not exist"});
  test::write_text(dir.file("bad.json"), "{not json");
  expect_error([&] { ModelConfig::from_file(dir.file("bad.json")); }, {"bad.json", "JSON"});
  // A folder named config.json: named as it is, not as config.json/config.json.
  test::TempDir other;
  std::filesystem::create_directory(other.file("config.json"));
  expect_error([&] { ModelConfig::from_file(other.file("config.json")); }, {"config.json is a folder"});
}

// Every fixture written by tests/fixtures/make_fixtures.py (transformers 5) must parse.
TEST(Config, AllFixturesParse) {
  const std::filesystem::path root = "tests/fixtures/models";
  if (!std::filesystem::exists(root)) GTEST_SKIP() << "no fixtures under " << root;
  int parsed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    const auto cfg = entry.path() / "config.json";
    if (!std::filesystem::exists(cfg)) continue;
    SCOPED_TRACE(cfg.string());
    const ModelConfig c = ModelConfig::from_file(cfg.string());
    EXPECT_EQ(c.num_attention_heads % c.num_key_value_heads, 0);
    EXPECT_GT(c.head_dim, 0);
    ++parsed;
  }
  EXPECT_GT(parsed, 0);
}

// Spot checks of fixtures whose distinguishing field is known from make_fixtures.py.
TEST(Config, FixtureDetails) {
  const std::string root = "tests/fixtures/models/";
  if (!std::filesystem::exists(root + "llama3_rope/config.json")) GTEST_SKIP() << "fixtures not generated";
  const ModelConfig l3 = ModelConfig::from_file(root + "llama3_rope");
  EXPECT_EQ(l3.rope_scaling.type, RopeType::kLlama3);
  EXPECT_DOUBLE_EQ(l3.rope_theta, 500000.0);
  EXPECT_EQ(l3.rope_scaling.original_max_position_embeddings, 64);
  EXPECT_EQ(ModelConfig::from_file(root + "rope_yarn").rope_scaling.type, RopeType::kYarn);
  EXPECT_EQ(ModelConfig::from_file(root + "rope_dynamic").rope_scaling.type, RopeType::kDynamic);
  EXPECT_EQ(ModelConfig::from_file(root + "rope_linear").rope_scaling.type, RopeType::kLinear);
  EXPECT_TRUE(ModelConfig::from_file(root + "qwen2_bias").qkv_bias);
  EXPECT_TRUE(ModelConfig::from_file(root + "llama_attn_bias").o_bias);
  EXPECT_TRUE(ModelConfig::from_file(root + "tied").tie_word_embeddings);
  EXPECT_EQ(ModelConfig::from_file(root + "head_dim").head_dim, 32);
  const ModelConfig gqa = ModelConfig::from_file(root + "gqa");
  EXPECT_EQ(gqa.num_key_value_heads, 2);
  EXPECT_EQ(gqa.eos_token_ids, (std::vector<int64_t>{2}));
  EXPECT_EQ(gqa.torch_dtype, "float32");
}

}  // namespace
}  // namespace gqa
