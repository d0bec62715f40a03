// The decoder stage of a tokenizer.json: turns token strings back into text. Supported: Sequence,
// ByteLevel, Replace (string pattern), ByteFallback, Fuse, Strip and Metaspace.
// The result is raw bytes: a byte-fallback or byte-level run that is not valid UTF-8 is kept as is, so the
// streaming detokenizer can wait for the rest of a character; Tokenizer::decode repairs the final text.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "tokenizer/pre_tokenizer.h"

namespace gqa::tok {

class Decoder {
 public:
  enum class Kind { kByteLevel, kReplace, kByteFallback, kFuse, kStrip, kMetaspace };
  struct Step {
    Kind kind;
    std::string a, b;  // Replace: pattern, content; Strip: content; Metaspace: replacement
    int start = 0, stop = 0;  // Strip
    PrependScheme prepend = PrependScheme::kAlways;  // Metaspace
  };

  static Step step(Kind kind, std::string a = "", std::string b = "", int start = 0, int stop = 0) {
    return Step{kind, std::move(a), std::move(b), start, stop, PrependScheme::kAlways};
  }

  static Decoder from_json(const nlohmann::json& j, const std::string& where);
  void add(Step s) { steps_.push_back(std::move(s)); }
  bool empty() const { return steps_.empty(); }

  // No steps: tokens joined with " ", as HF does without a decoder.
  std::string decode(std::vector<std::string> tokens) const;

 private:
  void add_json(const nlohmann::json& j, const std::string& where);
  std::vector<Step> steps_;
};

}  // namespace gqa::tok
