// Added tokens (special tokens like <s>, <|eot_id|>, and user-added ones): found in the text before any
// normalization or splitting, leftmost-longest like HF's AddedVocabulary, with lstrip/rstrip/single_word.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gqa::tok {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool normalized = false;  // matched in the normalized text instead of the raw text
  bool lstrip = false, rstrip = false, single_word = false;
};

// A stretch of the input: an added token (id >= 0) or text to normalize and pre-tokenize (id = -1).
struct Segment {
  std::string_view text;
  int32_t id = -1;
  size_t offset = 0;  // byte offset of `text` in the string that was split
};

class AddedTokens {
 public:
  void add(AddedToken t);
  const std::vector<AddedToken>& all() const { return tokens_; }
  const AddedToken* find_id(int32_t id) const;
  bool has_normalized() const;

  // Splits `text` at the tokens whose `normalized` flag equals `normalized`.
  std::vector<Segment> split(std::string_view text, bool normalized) const;

 private:
  std::vector<AddedToken> tokens_;
};

}  // namespace gqa::tok
