// Internals of chat_template.*: the renderer interface, the per-family renderers, and the text helpers
// that reproduce the Python/Jinja operations the real templates use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/chat_template.h"

namespace gqa::tok {

// What a template sees: transformers passes messages, add_generation_prompt and the special tokens.
struct ChatRenderInput {
  const std::vector<ChatMessage>& messages;  // never empty (checked before rendering)
  bool add_generation_prompt;
  const std::string& bos;
  const std::string& eos;
};

using ChatRenderFn = std::string (*)(const ChatRenderInput&);

struct ChatTemplateVariant {
  const char* id;         // "llama3.1"
  const char* family;     // "llama3"
  uint64_t fingerprint;   // of the real template's canonical form
  ChatRenderFn render;
};

namespace chat {

// Renderers, one per variant (chat_template_llama.cpp, chat_template_mistral.cpp, chat_template_chatml.cpp).
std::string render_llama2(const ChatRenderInput& in);
std::string render_llama3(const ChatRenderInput& in);
std::string render_llama3_initial(const ChatRenderInput& in);
std::string render_llama3_1(const ChatRenderInput& in);
std::string render_mistral_v01(const ChatRenderInput& in);
std::string render_mistral_v02_legacy(const ChatRenderInput& in);
std::string render_mistral_v02(const ChatRenderInput& in);
std::string render_mistral_v03(const ChatRenderInput& in);
std::string render_chatml(const ChatRenderInput& in);
std::string render_qwen2(const ChatRenderInput& in);

// Python's str.strip() (= Jinja's |trim): removes the code points str.isspace() accepts from both ends.
std::string py_strip(std::string_view s);
// Python's json.dumps(s, ensure_ascii=False) of a string (= transformers' |tojson).
std::string json_quote(std::string_view s);
// A template's raise_exception(message): throws gqa::Error naming the variant.
[[noreturn]] void raise_template_error(const char* variant, const std::string& message);

// Canonical form of a template (see chat_template.h); its hash is gqa::fnv1a64 (core/hash.h).
std::string canonical_template(std::string_view text);

}  // namespace chat
}  // namespace gqa::tok
