// The normalizer stage of a tokenizer.json (applied to the text between added tokens before splitting):
// Sequence, Prepend, Replace (string or regex), NFC/NFD/NFKC/NFKD (ICU, as Hugging Face's Unicode 9.0
// tables have them: code points assigned later are left as they are) and Lowercase.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace gqa::tok {

class Normalizer {
 public:
  enum class Kind { kPrepend, kReplace, kReplaceRegex, kNfc, kNfd, kNfkc, kNfkd, kLowercase };
  struct Step {
    Kind kind;
    std::string a, b;  // Prepend: a = prefix; Replace: a = pattern, b = content
    std::shared_ptr<const Regex> regex;
  };

  // `j` is the "normalizer" value (null = none); `where` names the file for errors.
  static Normalizer from_json(const nlohmann::json& j, const std::string& where);

  bool empty() const { return steps_.empty(); }
  std::string apply(std::string_view text) const;

 private:
  void add_json(const nlohmann::json& j, const std::string& where);
  std::vector<Step> steps_;
  std::string where_;  // the file it came from (growth_limit.h's refusals name it)
};

}  // namespace gqa::tok
