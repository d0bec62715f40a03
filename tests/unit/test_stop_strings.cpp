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

// The earliest match wins whatever the list order, and a stop found is found whichever stop comes
// after it in the list. (Mutation testing: the last stop's find() alone passed EarliestOfSeveralWins.)
TEST(StopStrings, EarliestWinsWhateverTheListOrder) {
  StopStrings a({"ST", "END"});
  EXPECT_EQ(feed(a, {"abcSTxEND"}), "abc");
  StopStrings b({"END", "XYZ"});
  EXPECT_EQ(feed(b, {"abcENDx"}), "abc");
  EXPECT_TRUE(b.stopped());
}

// With several stops, the longest suffix that may start any of them is held back, not the one of
// the last stop listed: "abc" may start "abcd" though only "c" may start "cd".
// (Mutation testing: each stop's shorter match replacing a longer one passed.)
TEST(StopStrings, HoldsTheLongestPossibleStartOfAnyStop) {
  StopStrings s({"abcd", "cd"});
  EXPECT_EQ(s.push("xabc"), "x");
  EXPECT_EQ(s.push("d"), "");
  EXPECT_TRUE(s.stopped());
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
