// Stop strings: held back while they might be starting, never printed, found across token
// boundaries; text without a stop passes through whole.
#include <gtest/gtest.h>

#include "runtime/stop_strings.h"

namespace gqa {
namespace {

std::string feed(StopStrings& s, const std::vector<std::string>& pieces) {
  std::string out;
  for (const std::string& p : pieces) out += s.push(p);
  return out + s.flush();
}

TEST(StopStrings, NoStopPassesEverything) {
  StopStrings s({"</s>"});
  EXPECT_EQ(feed(s, {"Hello", " wor", "ld <", "/x>"}), "Hello world </x>");
  EXPECT_FALSE(s.stopped());
}

TEST(StopStrings, StopSplitAcrossPiecesIsNeverShown) {
  StopStrings s({"\nUser:"});
  std::string shown;
  for (const char* p : {"Fine", " thanks", "\n", "Us", "er", ": more"}) {
    shown += s.push(p);
    EXPECT_EQ(shown.find('\n'), std::string::npos) << "released a possible stop prefix early: " << shown;
  }
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(shown + s.flush(), "Fine thanks");
}

TEST(StopStrings, EarliestOfSeveralWins) {
  StopStrings s({"END", "ST"});
  EXPECT_EQ(feed(s, {"abcSTxEND"}), "abc");
}

TEST(StopStrings, HeldPrefixIsReleasedWhenItDiverges) {
  StopStrings s({"abc"});
  EXPECT_EQ(s.push("xab"), "x");
  EXPECT_EQ(s.push("d"), "abd");
  EXPECT_EQ(s.flush(), "");
}

TEST(StopStrings, EmptyStopListAndEmptyStringsIgnored) {
  StopStrings s({"", ""});
  EXPECT_EQ(feed(s, {"a", "b"}), "ab");
  EXPECT_FALSE(s.stopped());
}

}  // namespace
}  // namespace gqa
