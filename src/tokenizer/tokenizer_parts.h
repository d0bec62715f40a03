// The stages a Tokenizer runs; filled by the tokenizer.json and GGUF loaders.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"

namespace gqa::tok {

struct TokenizerParts {
  std::string source;
  bool gguf = false;  // read from a GGUF (its chat template is that file's tokenizer.chat_template)
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  std::unique_ptr<BpeModel> model;
  AddedTokens added;
  Decoder decoder;
  std::vector<int32_t> prefix_ids, suffix_ids;  // what add_special puts around the text
  int32_t bos_id = -1;
  std::vector<int32_t> eos_ids;
};

std::unique_ptr<TokenizerParts> load_tokenizer_json(const std::string& path);
std::unique_ptr<TokenizerParts> load_tokenizer_gguf(const std::string& path);

}  // namespace gqa::tok
