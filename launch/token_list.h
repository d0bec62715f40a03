// Prompt token ids as gqa-generate takes them: --prompt-tokens "1,2,3", and --prompt-tokens-file,
// whose ids are separated by commas and/or white space (gqa-tokenize prints them space-separated).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gqa {

// "1,2,3" -> {1,2,3}; throws gqa::Error for anything that is not a comma-separated int list.
std::vector<int32_t> parse_token_list(const std::string& text);

// The ids in `text` (the contents of `origin`, named in messages): int32 values separated by commas
// and/or white space, at least one; an empty item (",,", a leading or trailing comma) is refused.
std::vector<int32_t> parse_token_text(const std::string& text, const std::string& origin);

}  // namespace gqa
