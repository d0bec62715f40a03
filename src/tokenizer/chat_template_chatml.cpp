// ChatML templates (<|im_start|>role\ncontent<|im_end|>\n), rendered natively: any role, content verbatim.
#include <string>

#include "tokenizer/chat_template_detail.h"

namespace gqa::tok::chat {
namespace {

std::string chatml_turns(const ChatRenderInput& in, std::string out) {
  for (const ChatMessage& m : in.messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (in.add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace

// teknium/OpenHermes-2.5-Mistral-7B and the many models that copied its template.
std::string render_chatml(const ChatRenderInput& in) { return chatml_turns(in, ""); }

// Qwen/Qwen2-7B-Instruct: a default system turn when the conversation does not open with one.
std::string render_qwen2(const ChatRenderInput& in) {
  const bool has_system = in.messages[0].role == "system";
  return chatml_turns(in, has_system ? "" : "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n");
}

}  // namespace gqa::tok::chat
