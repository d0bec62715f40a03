// Command line of gqa-generate.
#pragma once

#include <cstdint>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "runtime/kv_page_size.h"
#include "runtime/prefill_chunk.h"
#include "runtime/sampler.h"

namespace gqa {

struct GenerateOptions {
  std::string model_dir;
  std::string backend = "auto";
  std::string comm = "auto";
  std::string dtype = "bf16";  // compute dtype of the cuda backend: bf16, f16 or f32
  std::vector<int32_t> prompt_tokens;  // --prompt-tokens, or filled from --prompt by the tokenizer
  std::string prompt_text;             // --prompt
  bool has_prompt_text = false;
  bool chat = false;                   // wrap --prompt (and --system) in the model's chat template
  std::string system;                  // --system
  bool has_system = false;             // --system given ("" included: an empty system turn)
  std::string tokenizer;               // tokenizer.json / dir / .gguf; empty = the model directory
  std::vector<std::string> stop;       // stop strings (text mode)
  int64_t max_new_tokens = 32;
  SamplingParams sampling;
  std::string dump_logits;
  bool ignore_eos = false;
  int64_t block_size = kDefaultKvBlockSize;
  int64_t kv_blocks = 0;  // 0: enough for prompt + max_new_tokens
  int64_t prefill_chunk = 0;  // 0: auto_prefill_chunk (runtime/prefill_chunk.h) once the backend is resolved
  bool quiet = false;
  bool no_graphs = false;  // decode steps launch op by op instead of replaying CUDA graphs
  // Where the prompt was read from, when a file gave it: "--prompt-file" or "--prompt-tokens-file",
  // and its path (empty: the prompt came in the arguments).
  std::string prompt_file_flag;
  std::string prompt_file;
};

// Parses argv. Returns -1 to go on, or an exit code (0 after --help, 2 after a usage error).
// Only `print` true prints (rank 0), so a bad flag is reported once, not once per rank; errors and
// warnings go to `err` (another rank gathers them so, to print them in one write under its own line).
int parse_generate_options(int argc, char** argv, bool print, GenerateOptions* out, std::ostream& err = std::cerr);

// The settings every rank must share, each under the flag that sets it, always the same flags in
// the same order (not the paths, which may differ between nodes, nor -q; whether --dump-logits is
// given, yes: keeping the logits changes how the ranks sample together, though rank 0 alone writes
// them): the ranks compare their hash with rank 0's before any collective, so a launch that gives
// them different arguments stops with a message naming the first flag that differs, instead of
// leaving ranks in different collectives. A new option that changes what the ranks do together
// belongs in it. with_file_prompt false leaves out a prompt a file gave (its contents, not an
// argument: the ranks compare it apart, so that a node's other copy of the file is named as such).
using FlagSettings = std::vector<std::pair<std::string, std::string>>;  // (flag, its setting)
FlagSettings collective_settings(const GenerateOptions& o, bool with_file_prompt = true);
// The settings as one string, each after its flag (what the ranks hash first).
std::string joined_settings(const FlagSettings& settings);

}  // namespace gqa
