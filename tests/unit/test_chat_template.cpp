// Chat templates against transformers' own renderings (tests/fixtures/chat/make_chat_fixtures.py):
// every case byte-identical, every case transformers refuses refused with its message, unknown templates
// refused clearly, recognition unmoved by formatting that cannot change the output.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <unistd.h>

#include "core/error.h"
#include "tokenizer/chat_template.h"

namespace fs = std::filesystem;
using gqa::tok::ChatMessage;
using gqa::tok::ChatTemplate;
using nlohmann::json;

namespace {

const fs::path kDir = "tests/fixtures/chat";

json load_json(const fs::path& p) {
  std::ifstream f(p);
  EXPECT_TRUE(f.good()) << "missing " << p << " (run tests/fixtures/chat/make_chat_fixtures.py)";
  return json::parse(f);
}

std::vector<ChatMessage> messages_of(const json& j) {
  std::vector<ChatMessage> out;
  for (const auto& m : j) out.push_back({m["role"], m["content"]});
  return out;
}

std::string template_text(const std::string& variant) {
  return load_json(kDir / variant / "tokenizer_config.json")["chat_template"];
}

std::string error_of(const ChatTemplate& t, const std::vector<ChatMessage>& ms, bool agp) {
  try {
    t.render(ms, agp);
  } catch (const gqa::Error& e) {
    return e.what();
  }
  return "";
}

std::string refusal(const std::string& text) {
  try {
    ChatTemplate::from_string(text, "<s>", "</s>");
  } catch (const gqa::Error& e) {
    return e.what();
  }
  return "";
}

// Replaces every occurrence; fails the test when there is none (the edit must exercise something).
std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  size_t n = 0;
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()), ++n) s.replace(p, from.size(), to);
  EXPECT_GT(n, 0u) << "no '" << from << "' to replace";
  return s;
}

}  // namespace

TEST(ChatTemplate, MatchesTransformersOnEveryFixtureCase) {
  const json fixtures = load_json(kDir / "expected.json");
  std::map<std::string, ChatTemplate> templates;
  size_t n_text = 0, n_error = 0;
  for (const auto& c : fixtures["cases"]) {
    const std::string variant = c["template"];
    if (!templates.count(variant)) templates.emplace(variant, ChatTemplate::from_tokenizer_config((kDir / variant).string()));
    const ChatTemplate& t = templates.at(variant);
    ASSERT_EQ(t.variant(), variant);
    ASSERT_EQ(t.family(), c["family"].get<std::string>());
    const auto ms = messages_of(c["messages"]);
    const bool agp = c["add_generation_prompt"];
    const std::string label = variant + "/" + c["name"].get<std::string>() + (agp ? " +gen" : "");
    if (c.contains("expected_text")) {
      std::string got;
      EXPECT_NO_THROW(got = t.render(ms, agp)) << label;
      EXPECT_EQ(got, c["expected_text"].get<std::string>()) << label;
      ++n_text;
    } else {
      const std::string err = error_of(t, ms, agp);
      EXPECT_NE(err.find(c["expected_error"].get<std::string>()), std::string::npos)
          << label << ": expected the error '" << c["expected_error"] << "', got '" << err << "'";
      ++n_error;
    }
  }
  EXPECT_EQ(templates.size(), ChatTemplate::supported_variants().size());
  EXPECT_GE(n_text, 250u);
  EXPECT_GE(n_error, 100u);
}

TEST(ChatTemplate, SpecialTokensComeFromTheConfig) {
  const auto llama2 = ChatTemplate::from_tokenizer_config((kDir / "llama2" / "tokenizer_config.json").string());
  EXPECT_EQ(llama2.bos_token(), "<s>");  // AddedToken object form
  EXPECT_EQ(llama2.eos_token(), "</s>");
  const auto qwen2 = ChatTemplate::from_tokenizer_config((kDir / "qwen2").string());
  EXPECT_EQ(qwen2.bos_token(), "");  // null
  EXPECT_EQ(qwen2.eos_token(), "<|im_end|>");
}

TEST(ChatTemplate, RecognitionIgnoresFormattingThatCannotChangeTheOutput) {
  for (const std::string& v : ChatTemplate::supported_variants()) {
    const std::string text = template_text(v);
    const std::string toggled = text.back() == '\n' ? text.substr(0, text.size() - 1) : text + "\n";
    EXPECT_EQ(ChatTemplate::from_string(toggled, "", "").variant(), v) << "trailing newline";
    const std::string spaced = replace_all(text, " %}", " \t  %}");
    EXPECT_EQ(ChatTemplate::from_string(spaced, "", "").variant(), v) << "spaces inside tags";
  }
  const std::string llama3 = template_text("llama3");
  EXPECT_EQ(ChatTemplate::from_string(replace_all(llama3, "<|end_header_id|>\n\n'", "<|end_header_id|>\\n\\n'"), "", "").variant(),
            "llama3") << "newline escaped inside a literal";
  EXPECT_EQ(ChatTemplate::from_string(replace_all(llama3, "'<|eot_id|>'", "\"<|eot_id|>\""), "", "").variant(), "llama3")
      << "quote style";
  const std::string v31 = template_text("llama3.1");
  EXPECT_EQ(ChatTemplate::from_string(replace_all(v31, "\n    {%-", "\n{%-"), "", "").variant(), "llama3.1")
      << "re-indented";
  EXPECT_EQ(ChatTemplate::from_string(replace_all(v31, "{#- System message + builtin tools #}", "{#- x #}"), "", "").variant(),
            "llama3.1") << "comment changed";
}

TEST(ChatTemplate, RefusesUnknownTemplatesNamingTheSupportedOnes) {
  const std::string llama3 = template_text("llama3");
  const std::string modified = refusal(replace_all(llama3, "'<|eot_id|>'", "'<|eom_id|>'"));
  EXPECT_NE(modified.find("unsupported chat_template"), std::string::npos) << modified;
  EXPECT_NE(modified.find("looks like a Llama-3 template"), std::string::npos) << modified;
  for (const std::string& v : ChatTemplate::supported_variants()) EXPECT_NE(modified.find(v), std::string::npos) << v;

  // Whitespace that reaches the output is part of the template: ' \n' after im_end is another template.
  const std::string chatml = refusal(replace_all(template_text("chatml"), "'<|im_end|>' + '\n'", "'<|im_end|>' + ' \n'"));
  EXPECT_NE(chatml.find("looks like a ChatML template"), std::string::npos) << chatml;
  const std::string data_ws = refusal("{% for m in messages %}{{ m['content'] }}\n{% endfor %}");
  EXPECT_NE(data_ws.find("none of the supported families"), std::string::npos) << data_ws;
  const std::string mistral = refusal(replace_all(template_text("mistral-v0.3"), "\"[INST] \"", "\"[INST]\""));
  EXPECT_NE(mistral.find("Mistral"), std::string::npos) << mistral;
  const std::string llama2 = refusal(replace_all(template_text("llama2"), "content.strip()", "content"));
  EXPECT_NE(llama2.find("Llama-2"), std::string::npos) << llama2;
  EXPECT_NE(refusal("").find("unsupported chat_template"), std::string::npos);
  EXPECT_NE(refusal("{{ bos_token }}{% if").find("unsupported"), std::string::npos);  // unterminated tag
}

// Edits found by a randomized comparison with transformers (2026-11-28) that recognition once let
// through: each changes what Jinja outputs, or makes it raise, so each must be refused.
TEST(ChatTemplate, RefusesEditsThatChangeJinjasParseOrOutput) {
  const std::string chatml = template_text("chatml"), mistral = template_text("mistral-v0.1");
  // +%} keeps the newline after the tag (trim_blocks off): the output ends in one more "\n".
  EXPECT_NE(refusal(replace_all(chatml, "{% endif %}", "{% endif +%}") + "\n\n").find("unsupported"), std::string::npos);
  EXPECT_NE(refusal(replace_all(mistral, "{% endif %}{% endfor %}", "{% endif %}{% endfor +%}") + "\n\n")
                .find("unsupported"),
            std::string::npos);
  EXPECT_EQ(ChatTemplate::from_string(replace_all(chatml, "{% endif %}", "{% endif +%}"), "", "").variant(), "chatml")
      << "+%} with no newline after it changes nothing";
  // Jinja raises on each of these: a tag or comment never closed, +}}, "= =".
  EXPECT_NE(refusal(chatml.substr(0, chatml.size() - 2)).find("unsupported"), std::string::npos);
  EXPECT_NE(refusal(chatml + "{# note").find("unsupported"), std::string::npos);
  EXPECT_NE(refusal(replace_all(chatml, "assistant\n' }}", "assistant\n' +}}")).find("unsupported"), std::string::npos);
  EXPECT_NE(refusal(replace_all(template_text("llama2"), "(loop.index0 % 2 == 0)", "(loop.index0 % 2 = = 0)"))
                .find("unsupported"),
            std::string::npos);
}

TEST(ChatTemplate, ConfigFileVariants) {
  const fs::path dir = fs::temp_directory_path() / ("gqa_chat_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& body) { std::ofstream(dir / name) << body; };
  const std::string qwen2 = template_text("qwen2");

  write("tokenizer_config.json", json{{"eos_token", "<|im_end|>"},
                                      {"chat_template", json::array({json{{"name", "tool_use"}, {"template", "x"}},
                                                                     json{{"name", "default"}, {"template", qwen2}}})}}
                                     .dump());
  EXPECT_EQ(ChatTemplate::from_tokenizer_config(dir.string()).variant(), "qwen2");

  write("tokenizer_config.json", R"({"bos_token": "<s>"})");
  try {
    ChatTemplate::from_tokenizer_config(dir.string());
    ADD_FAILURE() << "a config without a template must be refused";
  } catch (const gqa::Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no \"chat_template\""), std::string::npos) << e.what();
  }
  write("chat_template.jinja", template_text("llama3.1"));  // transformers' separate-file layout
  EXPECT_EQ(ChatTemplate::from_tokenizer_config(dir.string()).variant(), "llama3.1");

  write("tokenizer_config.json", "{not json");
  try {
    ChatTemplate::from_tokenizer_config(dir.string());
    ADD_FAILURE() << "malformed JSON must be refused";
  } catch (const gqa::Error& e) {
    EXPECT_NE(std::string(e.what()).find("malformed JSON in " + (dir / "tokenizer_config.json").string()),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(ChatTemplate::from_tokenizer_config((dir / "missing.json").string()), gqa::Error);
  fs::remove_all(dir);
}

// Configs of the wrong shape (found by fuzzing): one gqa::Error naming the file and the field, where a list
// of strings gave nlohmann's "cannot use value() with string" and deep nesting could overflow the stack.
TEST(ChatTemplate, ConfigOfTheWrongShapeNamesFileAndField) {
  const fs::path dir = fs::temp_directory_path() / ("gqa_chat_bad_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "tokenizer_config.json").string();
  const auto error_for = [&](const std::string& body) {
    std::ofstream(path) << body;
    try {
      ChatTemplate::from_tokenizer_config(dir.string());
    } catch (const gqa::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  for (const auto& [body, want] : std::vector<std::pair<std::string, std::string>>{
           {R"({"chat_template": ["a", "b"]})", R"("chat_template" list entry "a" is not {"name": string, "template": string})"},
           {R"({"chat_template": [{"name": "default"}]})", R"("chat_template" list entry {"name":"default"})"},
           {R"({"chat_template": [{"name": 1, "template": "x"}]})", R"("chat_template" list entry {"name":1,)"},
           {R"({"chat_template": 5})", R"("chat_template" is not a string)"},
           {"[]", "expected a JSON object"},
           {R"({"x": )" + std::string(100000, '[') + std::string(100000, ']') + "}", "JSON nested more than 64 levels deep"}}) {
    const std::string msg = error_for(body);
    EXPECT_NE(msg.find(path + ": " + want), std::string::npos) << msg;
  }
  fs::remove_all(dir);
}

TEST(ChatTemplate, InvalidUtf8ContentDoesNotBreakRendering) {
  const auto t = ChatTemplate::from_string(template_text("llama3"), "<|begin_of_text|>", "<|eot_id|>");
  const std::string got = t.render({{"user", " \xff\xfe\xe3\x80\x80 x \xe3\x80"}}, false);
  EXPECT_EQ(got, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n\xff\xfe\xe3\x80\x80 x \xe3\x80<|eot_id|>");
}

// Prints the fingerprint of each fixture template: the values kVariants in chat_template.cpp holds.
TEST(ChatTemplate, FingerprintsOfTheFixtureTemplates) {
  for (const std::string& v : ChatTemplate::supported_variants()) {
    std::printf("  %-20s 0x%016llxull\n", v.c_str(), ChatTemplate::fingerprint(template_text(v)));
    EXPECT_EQ(ChatTemplate::from_string(template_text(v), "", "").variant(), v);
  }
}
