// Shared helpers of the tokenizer tests: the fixture corpus and vocabularies in tests/fixtures/tokenizer/
// (written by make_tokenizer_fixtures.py; tests run from the repository root).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gqa::tok::test {

inline const std::string kFixtureDir = "tests/fixtures/tokenizer/";

// Every vocabulary the fixture script encoded the corpus with: file name -> expected/<name>.json.
inline const std::vector<std::string> kVocabularies = {
    "llama-spm.gguf", "gpt-2.gguf", "bl-llama3.json", "bl-qwen2.json", "spm-hub.json", "spm-metaspace.json",
    "bl-llama3.gguf", "bl-qwen2.gguf",
};

// expected/<vocab without .json>.json: what HF gave for the corpus with that vocabulary.
inline std::string expected_name(std::string vocab) {
  if (vocab.size() > 5 && vocab.compare(vocab.size() - 5, 5, ".json") == 0) vocab.resize(vocab.size() - 5);
  return "expected/" + vocab + ".json";
}

inline nlohmann::json read_fixture_json(const std::string& name) {
  const std::string path = kFixtureDir + name;
  std::ifstream f(path);
  if (!f) {
    ADD_FAILURE() << "missing fixture " << path << " (run from the repository root; regenerate with "
                  << "python tests/fixtures/tokenizer/make_tokenizer_fixtures.py)";
    throw std::runtime_error("missing fixture " + path);
  }
  return nlohmann::json::parse(f);
}

struct CorpusText {
  std::string name;
  std::string bytes;  // exactly what encode() gets: UTF-8, or raw invalid bytes for the "hex" entries
  bool valid_utf8;
};

inline std::vector<CorpusText> load_corpus() {
  std::vector<CorpusText> out;
  const nlohmann::json corpus = read_fixture_json("corpus.json");
  for (const auto& item : corpus.at("texts")) {
    CorpusText t{item.at("name").get<std::string>(), "", !item.contains("hex")};
    if (t.valid_utf8) {
      t.bytes = item.at("text").get<std::string>();
    } else {
      const std::string hex = item.at("hex").get<std::string>();
      for (size_t i = 0; i + 1 < hex.size(); i += 2) t.bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    out.push_back(std::move(t));
  }
  return out;
}

inline std::string join_ids(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    if (!s.empty()) s += ' ';
    s += std::to_string(id);  // (not " " + to_string: GCC 12 warns -Wrestrict on that operator+)
  }
  return s;
}

// A small working tokenizer.json: a BPE (no byte level) over "a", "b", "ab" (the one merge) and
// "c", the special added token "<s>" (id 4) that the post-processor prepends, split on spaces.
inline nlohmann::json good_tokenizer() {
  return nlohmann::json::parse(R"({
    "added_tokens": [{"id": 4, "content": "<s>", "special": true, "normalized": false}],
    "normalizer": null,
    "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "Removed"},
    "post_processor": {"type": "TemplateProcessing",
                       "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}],
                       "special_tokens": {"<s>": {"id": "<s>", "ids": [4]}}},
    "decoder": {"type": "Fuse"},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "c": 3}, "merges": ["a b"]}
  })");
}

}  // namespace gqa::tok::test
