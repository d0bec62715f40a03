// Llama-2-chat and Llama-3 Instruct templates, rendered natively. Each function mirrors its Jinja
// template statement by statement (tests/fixtures/chat/templates.py holds the real text).
#include <string>

#include "tokenizer/chat_template_detail.h"

namespace gqa::tok::chat {
namespace {

const char kAlternate[] = "Conversation roles must alternate user/assistant/user/assistant/...";

std::string llama3_turn(const std::string& role, const std::string& text) {
  return "<|start_header_id|>" + role + "<|end_header_id|>\n\n" + text + "<|eot_id|>";
}

const char kLlama3AssistantHeader[] = "<|start_header_id|>assistant<|end_header_id|>\n\n";

std::string render_llama3_common(const ChatRenderInput& in, bool generation_prompt) {
  std::string out;
  for (size_t i = 0; i < in.messages.size(); ++i) {
    if (i == 0) out += in.bos;  // bos is part of the first turn, not of the prompt
    out += llama3_turn(in.messages[i].role, py_strip(in.messages[i].content));
  }
  if (generation_prompt) out += kLlama3AssistantHeader;
  return out;
}

}  // namespace

// meta-llama/Llama-2-7b-chat-hf: an optional leading system message is folded into the first turn inside
// <<SYS>>; every user turn starts with bos; the generation prompt is ignored (the template has none).
std::string render_llama2(const ChatRenderInput& in) {
  const auto& ms = in.messages;
  const bool has_system = ms[0].role == "system";
  const size_t first = has_system ? 1 : 0;
  std::string out;
  for (size_t i = first; i < ms.size(); ++i) {
    const size_t index0 = i - first;
    const bool is_user = ms[i].role == "user";
    if (is_user != (index0 % 2 == 0)) raise_template_error("llama2", kAlternate);
    std::string content = ms[i].content;
    if (index0 == 0 && has_system) content = "<<SYS>>\n" + ms[0].content + "\n<</SYS>>\n\n" + content;
    if (is_user) {
      out += in.bos + "[INST] " + py_strip(content) + " [/INST]";
    } else if (ms[i].role == "assistant") {
      out.append(" ").append(py_strip(content)).append(" ").append(in.eos);
    }  // any other role at an odd position renders nothing
  }
  return out;
}

// meta-llama/Meta-Llama-3-8B-Instruct: any role, content trimmed, header only with add_generation_prompt.
std::string render_llama3(const ChatRenderInput& in) { return render_llama3_common(in, in.add_generation_prompt); }

// The first Meta-Llama-3-8B-Instruct upload appended the assistant header unconditionally.
std::string render_llama3_initial(const ChatRenderInput& in) { return render_llama3_common(in, true); }

// meta-llama/Llama-3.1-8B-Instruct without tools: a system turn always comes first (with the knowledge
// and "today" dates the template defaults to), tool/ipython turns carry their content as a JSON string.
std::string render_llama3_1(const ChatRenderInput& in) {
  const auto& ms = in.messages;
  const bool has_system = ms[0].role == "system";
  std::string out = in.bos;
  out += "<|start_header_id|>system<|end_header_id|>\n\n";
  out += "Cutting Knowledge Date: December 2023\n";
  out += "Today Date: 26 Jul 2024\n\n";
  out += has_system ? py_strip(ms[0].content) : std::string();
  out += "<|eot_id|>";
  for (size_t i = has_system ? 1 : 0; i < ms.size(); ++i) {
    const std::string& role = ms[i].role;
    if (role == "ipython" || role == "tool") {
      // `message.content is iterable` holds for a string, so the template emits content|tojson.
      out += "<|start_header_id|>ipython<|end_header_id|>\n\n" + json_quote(ms[i].content) + "<|eot_id|>";
    } else {
      out += llama3_turn(role, py_strip(ms[i].content));
    }
  }
  if (in.add_generation_prompt) out += kLlama3AssistantHeader;
  return out;
}

}  // namespace gqa::tok::chat
