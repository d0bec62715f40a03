// Chat templates: turn a conversation into the prompt text a chat model was trained on, byte-identical
// to transformers' `apply_chat_template(messages, tokenize=False, add_generation_prompt=...)`.
//
// No Jinja engine: Debian ships none for C++ (inja, Jinja2Cpp, minja are not packaged), so gqa recognises
// the real templates of the supported models and renders each natively (chat_template_<family>.cpp).
//
// Recognition (chat_template.cpp, canonical_template in chat_template_text.cpp): the template text is reduced to what Jinja would execute
// with transformers' settings (trim_blocks, lstrip_blocks, no trailing newline) — comments dropped,
// `{%-`/`-%}` and block-trimming applied to the text between tags, whitespace inside tags removed, string
// literals decoded and re-quoted one way — and the 64-bit FNV-1a hash of that canonical form must equal
// a known variant's. Re-indenting a template, swapping ' for ", escaping a newline as \n or adding a
// trailing newline keeps the fingerprint; any change that could alter the output changes it, and then the
// template is refused with an error naming the family its markers suggest ("<|start_header_id|>" →
// Llama-3, "<|im_start|>" → ChatML, "[INST]" with "<<SYS>>" → Llama-2, "[INST]" → Mistral) and listing
// every supported variant. A wrong prompt is never rendered silently.
//
// Supported variants (family): llama2 (Llama-2-chat), llama3, llama3-initial, llama3.1 (Llama-3
// Instruct), mistral-v0.1, mistral-v0.2-legacy, mistral-v0.2, mistral-v0.3 (Mistral/Mixtral Instruct
// [INST]), chatml (OpenHermes-style ChatML), qwen2 (ChatML with Qwen2's default system prompt).
// Where a template raises (roles that do not alternate, an unsupported role) render() throws gqa::Error
// carrying the template's own message; an empty conversation is refused as transformers refuses it.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace gqa::tok {

struct ChatMessage {
  std::string role, content;
};

struct ChatTemplateVariant;  // one recognised template: id, family, fingerprint, renderer

class ChatTemplate {
 public:
  // `path_or_dir`: a tokenizer_config.json, or the model directory holding it. The template is its
  // "chat_template" (a string, or the "default" entry of a list of named templates), else the
  // directory's chat_template.jinja; bos/eos come from "bos_token"/"eos_token" (string, AddedToken
  // object or null).
  static ChatTemplate from_tokenizer_config(const std::string& path_or_dir);
  static ChatTemplate from_string(std::string template_text, std::string bos_token, std::string eos_token);

  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

  std::string family() const;   // "llama2", "llama3", "mistral" or "chatml"
  std::string variant() const;  // e.g. "llama3.1", "mistral-v0.3", "qwen2"
  const std::string& bos_token() const { return bos_; }
  const std::string& eos_token() const { return eos_; }

  // Every supported variant id, in a stable order (for messages and --help).
  static std::vector<std::string> supported_variants();
  // The canonical-form fingerprint recognition compares (exposed for tests and for adding variants).
  static unsigned long long fingerprint(const std::string& template_text);

 private:
  ChatTemplate(const ChatTemplateVariant* v, std::string bos, std::string eos)
      : variant_(v), bos_(std::move(bos)), eos_(std::move(eos)) {}

  const ChatTemplateVariant* variant_;
  std::string bos_, eos_;
};

}  // namespace gqa::tok
