// Mistral / Mixtral Instruct [INST] templates, rendered natively. None of them has a generation prompt:
// a prompt ending in a user turn already ends in [/INST]. Raises are reproduced in the template's order.
#include <string>

#include "tokenizer/chat_template_detail.h"

namespace gqa::tok::chat {
namespace {

const char kAlternate[] = "Conversation roles must alternate user/assistant/user/assistant/...";
const char kOnlyUserAssistant[] = "Only user and assistant roles are supported!";
const char kAlternateAfterSystem[] =
    "After the optional system message, conversation roles must alternate user/assistant/user/assistant/...";
const char kOnlyUserAssistantSystem[] =
    "Only user and assistant roles are supported, with the exception of an initial optional system message!";

// v0.1 and the legacy v0.2: no system message; `assistant_suffix` follows eos after assistant turns.
std::string render_mistral_no_system(const ChatRenderInput& in, const char* variant, const char* assistant_suffix) {
  std::string out = in.bos;
  for (size_t i = 0; i < in.messages.size(); ++i) {
    const ChatMessage& m = in.messages[i];
    if ((m.role == "user") != (i % 2 == 0)) raise_template_error(variant, kAlternate);
    if (m.role == "user") {
      out += "[INST] " + m.content + " [/INST]";
    } else if (m.role == "assistant") {
      out += m.content + in.eos + assistant_suffix;
    } else {
      raise_template_error(variant, kOnlyUserAssistant);
    }
  }
  return out;
}

bool is_tool_role(const std::string& role) { return role == "tool" || role == "tool_results"; }

}  // namespace

// mistralai/Mistral-7B-Instruct-v0.1.
std::string render_mistral_v01(const ChatRenderInput& in) { return render_mistral_no_system(in, "mistral-v0.1", " "); }

// mistralai/Mixtral-8x7B-Instruct-v0.1 and the first Mistral-7B-Instruct-v0.2 upload.
std::string render_mistral_v02_legacy(const ChatRenderInput& in) {
  return render_mistral_no_system(in, "mistral-v0.2-legacy", "");
}

// mistralai/Mistral-7B-Instruct-v0.2 now ("v1"): the system message opens the first user turn.
std::string render_mistral_v02(const ChatRenderInput& in) {
  const auto& ms = in.messages;
  const bool has_system = ms[0].role == "system";
  const size_t first = has_system ? 1 : 0;
  std::string out = in.bos;
  for (size_t i = first; i < ms.size(); ++i) {
    const size_t index0 = i - first;
    if ((ms[i].role == "user") != (index0 % 2 == 0)) raise_template_error("mistral-v0.2", kAlternateAfterSystem);
    if (ms[i].role == "user") {
      const std::string system = index0 == 0 && has_system ? ms[0].content + "\n\n" : std::string();
      out += " [INST] " + system + ms[i].content + " [/INST]";
    } else if (ms[i].role == "assistant") {
      out += " " + ms[i].content + in.eos;
    } else {
      raise_template_error("mistral-v0.2", kOnlyUserAssistantSystem);
    }
  }
  return out;
}

// mistralai/Mistral-7B-Instruct-v0.3 ("v3"): the alternation check skips tool turns and runs before any
// output; the system message goes into the *last* message when that is a user turn (else it is dropped).
std::string render_mistral_v03(const ChatRenderInput& in) {
  const auto& ms = in.messages;
  const bool has_system = ms[0].role == "system";
  const size_t first = has_system ? 1 : 0;
  size_t index = 0;
  for (size_t i = first; i < ms.size(); ++i) {
    if (is_tool_role(ms[i].role)) continue;
    if ((ms[i].role == "user") != (index % 2 == 0)) raise_template_error("mistral-v0.3", kAlternateAfterSystem);
    ++index;
  }
  std::string out = in.bos;
  for (size_t i = first; i < ms.size(); ++i) {
    if (ms[i].role == "user") {
      const bool last = i + 1 == ms.size();
      const std::string system = last && has_system ? ms[0].content + "\n\n" : std::string();
      out += "[INST] " + system + ms[i].content + "[/INST]";
    } else if (ms[i].role == "assistant") {
      out.append(" ").append(py_strip(ms[i].content)).append(in.eos);
    } else if (is_tool_role(ms[i].role)) {
      // A plain message has no tool_call_id, which the template requires of every tool result.
      raise_template_error("mistral-v0.3", "Tool call IDs should be alphanumeric strings with length 9!");
    } else {
      raise_template_error("mistral-v0.3", kOnlyUserAssistantSystem);
    }
  }
  return out;
}

}  // namespace gqa::tok::chat
