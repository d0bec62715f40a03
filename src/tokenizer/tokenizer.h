// Text <-> token ids, equal to Hugging Face `tokenizers` token for token.
//
//   auto tok = gqa::tok::Tokenizer::load("path/to/model");      // tokenizer.json, its directory, or a .gguf
//   std::vector<int32_t> ids = tok.encode("Hello", /*add_special=*/true);   // BOS etc. as the tokenizer says
//   std::string text = tok.decode(ids);
//
// Pipeline (tokenizer.json order): added/special tokens are cut out of the raw text first; each stretch in
// between is normalized, pre-tokenized into words, and each word is BPE-merged (tokenizer/bpe_model.h).
// Input that is not valid UTF-8 is first repaired, each maximal invalid subpart becoming U+FFFD, which is
// what Python's bytes.decode("utf-8", "replace") gives HF. decode() always returns valid UTF-8.
// encode/decode are thread-safe (the word cache is locked).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gqa::tok {

struct TokenizerParts;  // tokenizer/tokenizer_parts.h

class Tokenizer {
 public:
  // `path`: a tokenizer.json, a directory holding one, or a .gguf (tokenizer.ggml.model llama or gpt2); a file
  // named *.gguf or starting with the GGUF magic is read as a GGUF, any other as a tokenizer.json.
  static Tokenizer load(const std::string& path);
  static Tokenizer from_json_file(const std::string& path);
  static Tokenizer from_gguf(const std::string& path);

  explicit Tokenizer(std::unique_ptr<TokenizerParts> parts);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // add_special: the tokenizer's own additions (tokenizer.json post_processor, GGUF add_bos/add_eos_token).
  std::vector<int32_t> encode(std::string_view text, bool add_special) const;
  // Throws gqa::Error on an id outside the vocabulary. Result is valid UTF-8.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;
  // The decoder's raw bytes (an incomplete byte-fallback character stays incomplete): for StreamDecoder.
  std::string decode_bytes(std::span<const int32_t> ids, bool skip_special = false) const;

  int32_t bos_id() const;                      // -1 when the tokenizer has none
  const std::vector<int32_t>& eos_ids() const; // every id that ends generation (may be empty)
  const std::string& token_text(int32_t id) const;  // the token as the vocabulary spells it
  bool spells(int32_t id) const;  // whether token_text(id) has an answer (a vocabulary or added token)
  bool is_special(int32_t id) const;
  std::optional<int32_t> token_id(std::string_view token) const;
  int32_t vocab_size() const;                  // one past the largest id
  const std::string& source() const;           // the file it was loaded from
  // Whether source() is a GGUF (load() decides by the .gguf extension or the GGUF magic): its chat template
  // is then the file's tokenizer.chat_template, not a tokenizer_config.json beside it. --chat routes on this
  // so that it reads the template from the file the tokenizer came from.
  bool is_gguf() const;

 private:
  std::unique_ptr<TokenizerParts> p_;
};

// Streaming detokenizer: push ids as they are generated, get text back as soon as it is complete UTF-8.
// A character split across tokens (byte fallback, byte-level pieces) is held until its last byte arrives;
// flush() ends the stream, turning a cut-off character into U+FFFD. SentencePiece's leading-space rule is
// kept: the first token of a stream loses its leading space (as in decode), unless `context` (e.g. the
// prompt) is given, in which case the text continues the context's last token.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special = true, std::span<const int32_t> context = {});
  std::string push(int32_t id);
  std::string flush();

 private:
  const Tokenizer* tok_;
  bool skip_special_;
  std::vector<int32_t> window_;  // [one already-emitted token for context] + tokens not fully emitted
  size_t emitted_ = 0;           // bytes of decode_bytes(window_) already returned
};

}  // namespace gqa::tok
