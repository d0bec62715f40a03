#include "launch/text_prompt.h"

#include <filesystem>

#include "core/error.h"
#include "runtime/stop_strings.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/gguf_reader.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace gqa {

namespace {

// A GGUF carries its template as tokenizer.chat_template; a Hugging Face tokenizer has it in
// tokenizer_config.json beside tokenizer.json.
tok::ChatTemplate load_chat_template(const std::string& path, const tok::Tokenizer& tokenizer) {
  if (tokenizer.is_gguf()) {  // (as the tokenizer was read: a .gguf, or GGUF's magic under another name)
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

std::string tokenizer_path(const GenerateOptions& o) { return o.tokenizer.empty() ? o.model_dir : o.tokenizer; }

// The tokenizer a text prompt needs; where --model's folder holds none (or a bad one) and no
// --tokenizer was given, the error says how else to run.
tok::Tokenizer load_tokenizer(const GenerateOptions& o) {
  try {
    return tok::Tokenizer::load(tokenizer_path(o));
  } catch (const Error& e) {
    if (!o.tokenizer.empty()) throw;
    throw Error(std::string(e.what()) + " (a text prompt needs a tokenizer: name one with --tokenizer, or give the "
                                        "prompt as token ids with --prompt-tokens)");
  }
}

class TokenizerStreamer final : public TextStreamer {
 public:
  TokenizerStreamer(const tok::Tokenizer& tok, std::span<const int32_t> prompt, std::vector<std::string> stops,
                    std::ostream& out)
      : tok_(tok), decoder_(tok, /*skip_special=*/true, prompt), stops_(std::move(stops)), out_(out) {}

  bool on_token(int32_t id) override {
    // An id the tokenizer does not spell (a model whose vocab_size pads the tokenizer's, as Qwen2's
    // 151936 logits over ~151665 tokens) is text-less, as Hugging Face tokenizers decode it.
    if (tok_.spells(id)) out_ << stops_.push(decoder_.push(id)) << std::flush;
    return stops_.stopped();
  }

  void finish() override { out_ << stops_.push(decoder_.flush()) << stops_.flush() << "\n" << std::flush; }

 private:
  const tok::Tokenizer& tok_;
  tok::StreamDecoder decoder_;
  StopStrings stops_;
  std::ostream& out_;
};

class TokenizerPrompt final : public TextPrompt {
 public:
  explicit TokenizerPrompt(const GenerateOptions& o) : tokenizer_(load_tokenizer(o)) {
    const std::string path = tokenizer_path(o);
    const auto check_utf8 = [&](const std::string& text, const std::string& what) {
      if (tok::is_valid_utf8(text)) return;
      warnings_.push_back(what + " is not valid UTF-8: each ill-formed byte sequence in it is read as U+FFFD (the "
                          "replacement character, as Python's bytes.decode(\"utf-8\", \"replace\")); convert the "
                          "text to UTF-8 (e.g. iconv) to keep those characters");
    };
    check_utf8(o.prompt_text, o.prompt_file.empty() ? "--prompt" : "--prompt-file " + o.prompt_file);
    if (o.has_system) check_utf8(o.system, "--system");
    rendered_ = o.prompt_text;
    if (o.chat) {
      const tok::ChatTemplate tmpl = load_chat_template(path, tokenizer_);
      std::vector<tok::ChatMessage> messages;
      if (o.has_system) messages.push_back({"system", o.system});  // (--system "": an empty system turn)
      messages.push_back({"user", o.prompt_text});
      try {
        rendered_ = tmpl.render(messages, /*add_generation_prompt=*/true);
      } catch (const Error& e) {
        // The same messages without the system turn render: the template refuses that turn (Mistral
        // v0.1's has none), so say which flag it came from.
        if (!o.has_system) throw;
        try {
          (void)tmpl.render({messages.back()}, /*add_generation_prompt=*/true);
        } catch (const Error&) {
          throw e;
        }
        GQA_FAIL(e.what() << " (it renders without --system's turn: this template takes no system message; leave "
                             "out --system)");
      }
    }
    // A rendered chat already spells out its special tokens (BOS included), as transformers'
    // apply_chat_template(tokenize=True) encodes it without adding more.
    ids_ = tokenizer_.encode(rendered_, /*add_special=*/!o.chat);
    GQA_CHECK(!ids_.empty(), "the prompt (--prompt or --prompt-file) encodes to no tokens");
  }

  std::vector<int32_t> eos_ids() const override { return tokenizer_.eos_ids(); }

  std::unique_ptr<TextStreamer> streamer(std::span<const int32_t> prompt, std::vector<std::string> stops,
                                         std::ostream& out) const override {
    return std::make_unique<TokenizerStreamer>(tokenizer_, prompt, std::move(stops), out);
  }

 private:
  tok::Tokenizer tokenizer_;
};

}  // namespace

std::unique_ptr<TextPrompt> encode_text_prompt(const GenerateOptions& o) {
  return std::make_unique<TokenizerPrompt>(o);
}

}  // namespace gqa
