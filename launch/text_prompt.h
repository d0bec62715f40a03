// Text in, text out for gqa-generate: --prompt/--chat become token ids through the model's
// tokenizer and chat template; generated ids become streamed text, cut at stop strings.
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "launch/generate_options.h"
#include "runtime/stop_strings.h"
#include "tokenizer/tokenizer.h"

namespace gqa {

struct TextPrompt {
  tok::Tokenizer tokenizer;
  std::vector<int32_t> ids;
  std::string rendered;  // the text that was encoded (after the chat template)
};

// Loads the tokenizer (--tokenizer, else the model directory) and encodes --prompt, through the
// chat template of tokenizer_config.json with --chat. Throws gqa::Error naming the file.
TextPrompt encode_text_prompt(const GenerateOptions& o);

class TextStreamer {
 public:
  TextStreamer(const tok::Tokenizer& tok, std::span<const int32_t> prompt, std::vector<std::string> stops,
               std::ostream& out);
  // Writes the text the token completes; true once a stop string has appeared.
  bool on_token(int32_t id);
  void finish();  // writes what was held back and a final newline

 private:
  tok::StreamDecoder decoder_;
  StopStrings stops_;
  std::ostream& out_;
};

}  // namespace gqa
