// generation_config.json beside a checkpoint's config.json: transformers' generate() stops at its
// eos_token_id, which may name more tokens than config.json's (Llama-3-Instruct adds <|eot_id|>
// there). gqa reads only that key; the file's sampling defaults are not applied.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gqa {

// The eos_token_id (an id or a list of ids) of `model_dir`/generation_config.json; empty when the
// file is absent or the key is absent or null. Throws gqa::Error naming the file for malformed
// JSON or an id outside [0, vocab_size) (core/json_token_ids.h, the reader config.json's ids and the
// tokenizer's read_special_ids use too; the tokenizer checks against its own vocabulary).
std::vector<int64_t> read_generation_eos_ids(const std::string& model_dir, int64_t vocab_size);

}  // namespace gqa
