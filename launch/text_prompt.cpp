#include "launch/text_prompt.h"

#include <filesystem>

#include "core/error.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/gguf_reader.h"

namespace gqa {

namespace {

// A GGUF carries its template as tokenizer.chat_template; a Hugging Face tokenizer has it in
// tokenizer_config.json beside tokenizer.json.
tok::ChatTemplate load_chat_template(const std::string& path, const tok::Tokenizer& tokenizer) {
  if (std::filesystem::path(path).extension() == ".gguf") {
    const GgufFile gguf = GgufFile::open(path);
    GQA_CHECK(gguf.find("tokenizer.chat_template") != nullptr,
              path << " has no tokenizer.chat_template, so --chat cannot format the conversation");
    const int32_t bos = tokenizer.bos_id();
    const std::vector<int32_t>& eos = tokenizer.eos_ids();
    return tok::ChatTemplate::from_string(gguf.get_string("tokenizer.chat_template"),
                                          bos >= 0 ? tokenizer.token_text(bos) : std::string(),
                                          eos.empty() ? std::string() : tokenizer.token_text(eos.front()));
  }
  const std::filesystem::path dir =
      std::filesystem::is_directory(path) ? std::filesystem::path(path) : std::filesystem::path(path).parent_path();
  return tok::ChatTemplate::from_tokenizer_config(dir.string());
}

}  // namespace

TextPrompt encode_text_prompt(const GenerateOptions& o) {
  const std::string path = o.tokenizer.empty() ? o.model_dir : o.tokenizer;
  TextPrompt p{tok::Tokenizer::load(path), {}, o.prompt_text};
  if (o.chat) {
    const tok::ChatTemplate tmpl = load_chat_template(path, p.tokenizer);
    std::vector<tok::ChatMessage> messages;
    if (!o.system.empty()) messages.push_back({"system", o.system});
    messages.push_back({"user", o.prompt_text});
    p.rendered = tmpl.render(messages, /*add_generation_prompt=*/true);
  }
  // A rendered chat already spells out its special tokens (BOS included), as transformers'
  // apply_chat_template(tokenize=True) encodes it without adding more.
  p.ids = p.tokenizer.encode(p.rendered, /*add_special=*/!o.chat);
  GQA_CHECK(!p.ids.empty(), "--prompt encodes to no tokens");
  return p;
}

TextStreamer::TextStreamer(const tok::Tokenizer& tok, std::span<const int32_t> prompt, std::vector<std::string> stops,
                           std::ostream& out)
    : decoder_(tok, /*skip_special=*/true, prompt), stops_(std::move(stops)), out_(out) {}

bool TextStreamer::on_token(int32_t id) {
  out_ << stops_.push(decoder_.push(id)) << std::flush;
  return stops_.stopped();
}

void TextStreamer::finish() {
  out_ << stops_.push(decoder_.flush()) << stops_.flush() << "\n" << std::flush;
}

}  // namespace gqa
