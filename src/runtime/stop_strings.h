// Stop strings over streamed text: text is released only once it can no longer be the start of
// a stop string, so a stop string is never printed, even when it arrives split across tokens.
#pragma once

#include <string>
#include <vector>

namespace gqa {

class StopStrings {
 public:
  explicit StopStrings(std::vector<std::string> stops);

  // Adds newly decoded text; returns the text that is safe to show now.
  std::string push(const std::string& text);
  // True once a stop string has appeared; nothing after its start is ever returned.
  bool stopped() const { return stopped_; }
  // At the end of generation: whatever was held back (empty after a stop).
  std::string flush();

 private:
  std::vector<std::string> stops_;
  std::string held_;  // text not yet released: a possible prefix of a stop string
  bool stopped_ = false;
};

}  // namespace gqa
