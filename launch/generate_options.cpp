#include "launch/generate_options.h"

#include <CLI/CLI.hpp>
#include <climits>
#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/regular_file.h"
#include "launch/cli_checks.h"
#include "launch/generate_help_env.h"
#include "launch/token_list.h"
#include "runtime/backend.h"
#include "runtime/communicator_factory.h"

namespace gqa {

namespace {
constexpr long long kMaxPositions = INT32_MAX;  // cache slots and positions are int32
// A prompt file's cap: ~100x a 128K-token prompt's text, yet refused by name before a wrong path
// (a disk image) fills memory.
constexpr uint64_t kMaxPromptFileBytes = uint64_t{64} << 20;

// gqa-generate --version: "gqa-generate 0.1.0 (backends: cpu, cuda; communicators: single, mpi, nccl; tokenizer: yes)".
std::string version_line() {
  std::string s = std::string("gqa-generate ") + GQA_VERSION + " (backends: cpu";
  if (cuda_backend_built()) s += ", cuda";
  s += "; communicators: single, mpi";
  if (nccl_built()) s += ", nccl";
  s += std::string("; tokenizer: ") + (GQA_WITH_TOKENIZER ? "yes" : "no (--prompt-tokens only)") + ")";
  return s;
}

// --model, --backend, --comm, --dtype: what runs the model, and where.
void add_setup_options(CLI::App& app, GenerateOptions* o) {
  app.add_option("--model", o->model_dir, "Hugging Face checkpoint directory (config.json + safetensors)")
      ->required()
      ->check(non_empty_path());
  app.add_option("--backend", o->backend,
                 "compute backend: cpu (f32 reference), cuda (bf16, GPU = local rank modulo the visible GPUs) or "
                 "auto (cuda when built and a GPU is visible, else cpu)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  app.add_option("--comm", o->comm,
                 "communicator: single (one rank), mpi (with --backend cuda: GPU buffers staged through host "
                 "memory, so ranks may share a GPU), nccl (--backend cuda only, one GPU per rank), or auto "
                 "(cpu backend: single on one rank, else mpi; cuda backend: nccl when every rank has its own GPU, "
                 "else mpi)")
      ->check(CLI::IsMember({"auto", "single", "mpi", "nccl"}))
      ->capture_default_str();
  app.add_option("--dtype", o->dtype,
                 "compute dtype of the cuda backend (weights, activations, KV cache): bf16, f16 or f32; the cpu "
                 "backend always computes in f32")
      ->check(CLI::IsMember({"bf16", "f16", "f32"}))
      ->capture_default_str();
}

// The prompt's options (the four ways to give it exclude each other) and the text mode's.
struct PromptArgs {
  std::string token_ids, text_path, tokens_path;  // --prompt-tokens, --prompt-file, --prompt-tokens-file
  CLI::Option* tokens = nullptr;
  CLI::Option* text = nullptr;
  CLI::Option* text_file = nullptr;
  CLI::Option* tokens_file = nullptr;
  CLI::Option* system = nullptr;
};
void add_prompt_options(CLI::App& app, GenerateOptions* o, PromptArgs& p) {
  p.tokens = app.add_option("--prompt-tokens", p.token_ids, "prompt as comma-separated token ids, e.g. 1,2,3");
  p.text = app.add_option("--prompt", o->prompt_text,
                          "prompt as text, encoded with the tokenizer (BOS etc. added as the tokenizer says); "
                          "the generated text streams to stdout");
  p.text_file =
      app.add_option("--prompt-file", p.text_path,
                     "prompt as text read from this regular file (its exact bytes; not a pipe or /dev/stdin), as "
                     "--prompt: for prompts longer than a command line takes (Linux passes at most 128 KiB in one "
                     "argument)")
          ->check(non_empty_path());
  p.tokens_file = app.add_option("--prompt-tokens-file", p.tokens_path,
                                 "prompt as token ids read from this regular file (not a pipe), separated by "
                                 "commas and/or white space (as gqa-tokenize prints them)")
                      ->check(non_empty_path());
  const std::vector<CLI::Option*> prompt_opts = {p.tokens, p.text, p.text_file, p.tokens_file};
  for (size_t i = 0; i < prompt_opts.size(); ++i) {
    for (size_t j = i + 1; j < prompt_opts.size(); ++j) prompt_opts[i]->excludes(prompt_opts[j]);
  }
  app.add_flag(
      "--chat", o->chat,
      "wrap --prompt as a user message (after --system) in the tokenizer's chat template (tokenizer_config.json's, "
      "chat_template.jinja, or a .gguf's) "
      "(Llama-2, Llama-3, Mistral, ChatML/Qwen2) with the assistant turn opened");
  p.system = app.add_option("--system", o->system,
                            "system message for --chat (\"\": an empty system turn, not the template's "
                            "default system prompt)");
  app.add_option("--tokenizer", o->tokenizer,
                 "tokenizer.json, a directory holding one, or a .gguf (default: the --model directory)")
      ->check(non_empty_path());
  app.add_option("--stop", o->stop,
                 "stop when the generated text contains this string (repeatable: one string a --stop; not printed)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

// How many tokens and how they are drawn, the KV cache, the steps, the output.
void add_generation_options(CLI::App& app, GenerateOptions* o) {
  app.add_option("--max-new-tokens", o->max_new_tokens,
                 "number of tokens to generate. A run (prompt + new tokens) past the model's "
                 "max_position_embeddings goes on with a warning, as transformers does (not with dynamic "
                 "RoPE scaling, made for it); past a sliding window (Mistral, Qwen2) it is refused")
      ->check(at_least(0, kMaxPositions))
      ->capture_default_str();
  app.add_option("--temperature", o->sampling.temperature, "sampling temperature; 0 = greedy")
      ->check(float_range())
      ->capture_default_str();
  app.add_option("--top-k", o->sampling.top_k, "sample among the k most likely tokens; 0 = all")
      ->check(at_least(0))
      ->capture_default_str();
  app.add_option("--top-p", o->sampling.top_p, "nucleus sampling mass in (0, 1]")
      ->check(float_range())
      ->capture_default_str();
  app.add_option("--seed", o->sampling.seed, "random seed for sampling")->check(unsigned_64())->capture_default_str();
  app.add_option("--dump-logits", o->dump_logits,
                 "write float32 .npy [prompt_len + max(generated - 1, 0), vocab_size]: the logits of every "
                 "position fed to the model, in order")
      ->check(non_empty_path());
  app.add_flag("--ignore-eos", o->ignore_eos, "do not stop at an EOS token (config.json's and generation_config.json's eos_token_id; with a text "
                "prompt also the tokenizer's end-of-turn tokens)");
  app.add_option("--block-size", o->block_size,
                 "KV cache block (page) size in tokens (the default: of pages of 16, 64 and 256 tokens, 256 gave "
                 "the fastest decode attention on an H200 at batch 16 (32K, 128K), and the same at batch 1; "
                 "src/runtime/kv_page_size.h)")
      ->check(at_least(1, kMaxPositions))
      ->capture_default_str();
  app.add_option("--kv-blocks", o->kv_blocks, "KV cache blocks (of --block-size tokens) per rank; 0 = enough for prompt + max-new-tokens")
      ->check(at_least(0, kMaxPositions))
      ->capture_default_str();
  app.add_option("--prefill-chunk", o->prefill_chunk,
                 "prompt tokens per prefill step; 0 = auto: " + std::to_string(kCudaPrefillChunk) +
                     " on the cuda backend (the chunk of gqa-bench's prefill figures), " +
                     std::to_string(kCpuPrefillChunk) + " on cpu and with --dump-logits")
      ->check(at_least(0, kMaxPositions))
      ->capture_default_str();
  app.add_flag("--no-graphs", o->no_graphs,
               "cuda backend: launch every decode step op by op instead of replaying a CUDA graph recorded per "
               "batch size and context bucket (graphs need --comm nccl or one rank)");
  app.add_flag("-q,--quiet", o->quiet, "no progress lines on stderr");
}

// After the parse: what the flags alone rule out (gqa::Error), the prompt's ids from --prompt-tokens,
// and a warning for each flag that would change nothing.
void check_flags(const CLI::App& app, const PromptArgs& p, GenerateOptions* o,
                 const std::function<void(const std::string&)>& warn) {
  o->has_prompt_text = p.text->count() > 0 || p.text_file->count() > 0;
  GQA_CHECK(p.tokens->count() > 0 || p.tokens_file->count() > 0 || o->has_prompt_text,
            "give the prompt as --prompt TEXT, --prompt-tokens IDS, --prompt-file or --prompt-tokens-file");
  GQA_CHECK(!o->chat || o->has_prompt_text, "--chat needs --prompt TEXT (or --prompt-file)");
  // Given, not non-empty: --system "" is an empty system turn, which templates render (ChatML's
  // "<|im_start|>system\n<|im_end|>") instead of their default system prompt (Qwen2's).
  o->has_system = p.system->count() > 0;
  GQA_CHECK(!o->has_system || o->chat, "--system needs --chat");
  GQA_CHECK(!(o->comm == "nccl" && o->backend == "cpu"),
            "--comm nccl needs --backend cuda (NCCL moves GPU buffers); use --comm mpi");
  GQA_CHECK(o->stop.empty() || o->has_prompt_text, "--stop needs --prompt TEXT (stop strings match generated text)");
  for (const std::string& stop : o->stop) GQA_CHECK(!stop.empty(), "--stop needs a non-empty string");
  if (p.tokens->count() > 0) o->prompt_tokens = parse_token_list(p.token_ids);
  validate(o->sampling);
  // Options that would change nothing: said, not refused (as transformers warns of top_k when greedy).
  if (o->sampling.temperature == 0 &&
      (app.count("--top-k") > 0 || app.count("--top-p") > 0 || app.count("--seed") > 0)) {
    warn("--top-k, --top-p and --seed have no effect at --temperature 0 (greedy decoding)");
  }
  if (!o->tokenizer.empty() && !o->has_prompt_text) warn("--tokenizer has no effect with --prompt-tokens");
  if (o->backend == "cpu" && app.count("--dtype") > 0 && o->dtype != "f32") {
    warn("--dtype " + o->dtype + " has no effect on the cpu backend (it computes in f32)");
  }
  if (o->backend == "cpu" && o->no_graphs) warn("--no-graphs has no effect on the cpu backend (it has no CUDA graphs)");
}

// The prompt files: what they hold is the input, not the flags (gqa::Error: exit 1, as for a bad
// prompt).
void read_prompt_files(const PromptArgs& p, GenerateOptions* o) {
  if (!p.text_path.empty()) {
    o->prompt_file_flag = "--prompt-file";
    o->prompt_file = p.text_path;
    o->prompt_text = read_regular_file_text(p.text_path, "--prompt-file", kMaxPromptFileBytes, "a prompt file");
  }
  if (!p.tokens_path.empty()) {
    o->prompt_file_flag = "--prompt-tokens-file";
    o->prompt_file = p.tokens_path;
    o->prompt_tokens = parse_token_text(
        read_regular_file_text(p.tokens_path, "--prompt-tokens-file", kMaxPromptFileBytes, "a prompt file"),
        "--prompt-tokens-file " + p.tokens_path);
  }
}

}  // namespace

int parse_generate_options(int argc, char** argv, bool print, GenerateOptions* o, std::ostream& err) {
  CLI::App app{
      "gqa-generate: generate tokens with a Llama-family GQA model, tensor-parallel over the MPI ranks it is "
      "launched with (mpirun -np T). Rank 0 samples and prints; the last stdout line is one JSON object "
      "{\"prompt_tokens\":[...],\"generated_tokens\":[...]}. With --prompt the generated text is streamed to "
      "stdout first.",
      "gqa-generate"};
  app.footer(
      "Environment: GQA_* variables tune the cuda backend's kernels (each default measured on an H200), set the "
      "cpu backend's threads and the communicators' time limits: --help-env lists them. "
      "Exit status: 0 done; 2 a usage error (what the flags alone rule out, or ranks started with different "
      "flags); 1 any other error (checkpoint, prompt or a file's contents, device, communicator or launch, flags "
      "this machine or job cannot run such as --comm nccl with no GPU, a --kv-blocks too small for prompt + "
      "--max-new-tokens), on every rank.");
  add_setup_options(app, o);
  PromptArgs p;
  add_prompt_options(app, o, p);
  add_generation_options(app, o);
  // (a callback, so that it needs no --model, as --help: it runs before the required options are
  // checked, and CLI::Success ends the parse with exit status 0)
  app.add_flag_callback(
      "--help-env",
      [print] {
        if (print) {
          for (const std::string& para : generate_env_paragraphs()) std::cout << wrap_text(para, 100) << "\n\n";
        }
        throw CLI::Success();
      },
      "list the environment variables (GQA_*: the cuda backend's kernel switches, the cpu backend's threads, the "
      "communicators' time limits) and what each does, then exit");
  app.set_version_flag("--version", version_line(), "print the version and what this build holds (backends, "
                                                    "communicators, tokenizer), then exit");
  try {
    app.parse(argc, argv);
    check_flags(app, p, o, [&](const std::string& line) {
      if (print) err << "gqa-generate: warning: " << line << "\n";
    });
  } catch (const CLI::ParseError& e) {
    if (!print) return e.get_exit_code() == 0 ? 0 : 2;
    // (the parser's own messages, like every other error, begin with the tool's name)
    name_parse_errors(app, "gqa-generate");
    const int code = app.exit(e, std::cout, err);
    return code == 0 ? 0 : 2;
  } catch (const Error& e) {
    if (print) err << "gqa-generate: " << e.what() << "\n";
    return 2;
  }
  try {
    read_prompt_files(p, o);
  } catch (const Error& e) {
    if (print) err << "gqa-generate: " << e.what() << "\n";
    return 1;
  }
  return -1;
}

FlagSettings collective_settings(const GenerateOptions& o, bool with_file_prompt) {
  const bool prompt = with_file_prompt || o.prompt_file.empty();
  std::string ids;
  if (prompt) {
    for (int32_t t : o.prompt_tokens) ids += std::to_string(t) + ',';
  } else {
    ids = "(" + o.prompt_file_flag + ")";
  }
  std::string stops;
  for (const std::string& s : o.stop) stops += std::to_string(s.size()) + ':' + s;
  char hex[64];
  const auto exact = [&](double v) {  // (every bit of a float setting)
    std::snprintf(hex, sizeof(hex), "%a", v);
    return std::string(hex);
  };
  const auto text = [](bool given, const std::string& s) {
    return std::to_string(given) + ':' + std::to_string(s.size()) + ':' + s;
  };
  return {
      {"--backend", o.backend},
      {"--comm", o.comm},
      {"--dtype", o.dtype},
      {"--prompt-tokens", ids},  // (or the ids a text prompt encodes to, or a file's)
      {"--prompt", prompt ? text(o.has_prompt_text, o.prompt_text) : std::to_string(o.has_prompt_text)},
      {"--chat", std::to_string(o.chat)},
      {"--system", text(o.has_system, o.system)},
      {"--stop", stops},
      {"--temperature", exact(o.sampling.temperature)},
      {"--top-k", std::to_string(o.sampling.top_k)},
      {"--top-p", exact(o.sampling.top_p)},
      {"--seed", std::to_string(o.sampling.seed)},
      {"--max-new-tokens", std::to_string(o.max_new_tokens)},
      {"--ignore-eos", std::to_string(o.ignore_eos)},
      {"--block-size", std::to_string(o.block_size)},
      {"--kv-blocks", std::to_string(o.kv_blocks)},
      {"--prefill-chunk", std::to_string(o.prefill_chunk)},
      {"--no-graphs", std::to_string(o.no_graphs)},
      {"--dump-logits", std::to_string(!o.dump_logits.empty())},  // (whether given: it picks the sampling path)
  };
}

std::string joined_settings(const FlagSettings& settings) {
  std::string out;
  for (const auto& [flag, value] : settings) out += flag + '=' + std::to_string(value.size()) + ':' + value + ';';
  return out;
}

}  // namespace gqa
