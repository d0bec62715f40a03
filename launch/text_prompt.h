// Text in, text out for gqa-generate: --prompt/--chat become token ids through the model's
// tokenizer and chat template; generated ids become streamed text, cut at stop strings.
// Built from text_prompt.cpp with the tokenizer, or text_prompt_unavailable.cpp without it
// (GQA_TOKENIZER off: encode_text_prompt then says why --prompt cannot work).
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "launch/generate_options.h"

namespace gqa {

class TextStreamer {
 public:
  virtual ~TextStreamer() = default;
  // Writes the text the token completes; true once a stop string has appeared.
  virtual bool on_token(int32_t id) = 0;
  virtual void finish() = 0;  // writes what was held back and a final newline
};

class TextPrompt {
 public:
  virtual ~TextPrompt() = default;
  const std::vector<int32_t>& ids() const { return ids_; }
  const std::string& rendered() const { return rendered_; }  // the text encoded (after the chat template)
  // Lines worth a warning (rank 0 prints them): text that is not valid UTF-8, which the tokenizer
  // reads with U+FFFD in place of each ill-formed sequence.
  const std::vector<std::string>& warnings() const { return warnings_; }
  virtual std::vector<int32_t> eos_ids() const = 0;          // the tokenizer's end-of-turn ids
  // A streamer of generated ids as text after `prompt` (for the SentencePiece leading space).
  virtual std::unique_ptr<TextStreamer> streamer(std::span<const int32_t> prompt, std::vector<std::string> stops,
                                                 std::ostream& out) const = 0;

 protected:
  std::vector<int32_t> ids_;
  std::string rendered_;
  std::vector<std::string> warnings_;
};

// Loads the tokenizer (--tokenizer, else the model directory) and encodes --prompt, through the
// chat template of tokenizer_config.json with --chat. Throws gqa::Error naming the file.
std::unique_ptr<TextPrompt> encode_text_prompt(const GenerateOptions& o);

}  // namespace gqa
