// The pre-tokenizer stage of a tokenizer.json: cuts normalized text into the words BPE merges within.
// Supported: Sequence, Split (regex or string; Isolated, Removed, MergedWithPrevious, MergedWithNext,
// Contiguous), ByteLevel (GPT-2 regex and byte-to-character spelling), Metaspace (▁ replacement with
// prepend_scheme always/first/never) and Digits.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace gqa::tok {

// A word for the model. at_origin: it starts at offset 0 of the input (Metaspace's "first" scheme).
struct Piece {
  std::string text;
  bool at_origin = false;
};

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
enum class PrependScheme { kAlways, kFirst, kNever };

// The regexes HF uses: GPT-2's (ByteLevel use_regex), Llama-3's and Qwen2's (GGUF tokenizer.ggml.pre).
extern const char* const kGpt2SplitRegex;
extern const char* const kLlama3SplitRegex;
extern const char* const kQwen2SplitRegex;

class PreTokenizer {
 public:
  enum class Kind { kSplit, kByteLevel, kMetaspace };
  struct Step {
    Kind kind = Kind::kSplit;
    std::shared_ptr<const Regex> regex;  // Split (regex), ByteLevel (when use_regex)
    std::string literal;                 // Split (string pattern), Metaspace replacement
    SplitBehavior behavior = SplitBehavior::kIsolated;
    bool add_prefix_space = false;       // ByteLevel
    PrependScheme prepend = PrependScheme::kAlways;  // Metaspace
    bool split = true;                   // Metaspace
  };

  static PreTokenizer from_json(const nlohmann::json& j, const std::string& where);
  void add(Step step) { steps_.push_back(std::move(step)); }
  static Step split_regex(const std::string& pattern, const std::string& where);
  static Step byte_level(bool add_prefix_space, bool use_regex);
  static Step metaspace(std::string replacement, PrependScheme prepend, bool split);

  // Appends the words of `text` to `out`; at_origin: `text` begins at offset 0 of the input.
  void apply(std::string_view text, bool at_origin, std::vector<Piece>* out) const;

 private:
  void add_json(const nlohmann::json& j, const std::string& where);
  std::vector<Step> steps_;
  std::string where_;  // the file it came from, when read from one (growth_limit.h's refusals name it)
};

}  // namespace gqa::tok
