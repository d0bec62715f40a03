// The agreement helpers of core/error.h on simulated ranks (no MPI: `all_ok` answers as the
// collective would, from every rank's outcome): which error type and text each rank throws, so
// that gqa-generate prints one line where every rank failed and each failing rank's own line
// otherwise (launch/gqa_generate.cpp's catches).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace gqa {
namespace {

// What rank `rank` of ranks whose local errors are `errors` ("" = succeeded) throws from
// agree_or_throw: "" when nothing; else the type ("rank", "agreed") and the text.
std::string outcome(const std::vector<std::string>& errors, int rank) {
  const auto all_ok = [&](bool mine_ok) {
    // (the collective: `mine_ok` is this rank's answer; the others answer the same question of theirs,
    // which is either "did it succeed" or "did it fail", told apart by what this rank asked)
    const bool asks_failed = mine_ok != errors[rank].empty();
    for (const std::string& e : errors) {
      if (asks_failed ? e.empty() : !e.empty()) return false;
    }
    return true;
  };
  try {
    agree_or_throw(all_ok, rank, static_cast<int>(errors.size()), errors[rank], "another rank failed");
  } catch (const RankError& e) {
    return std::string("rank: ") + e.what();
  } catch (const AgreedError& e) {
    return std::string("agreed: ") + e.what();
  }
  return "";
}

TEST(AgreeOrThrow, NothingWhenEveryRankSucceeded) {
  EXPECT_EQ(outcome({"", "", ""}, 0), "");
  EXPECT_EQ(outcome({"", "", ""}, 2), "");
}

TEST(AgreeOrThrow, TheFailingRankItsOwnTheOthersThatOneFailed) {
  const std::vector<std::string> errors = {"", "no device", ""};
  EXPECT_EQ(outcome(errors, 0), "agreed: another rank failed");
  EXPECT_EQ(outcome(errors, 1), "rank: no device");
  EXPECT_EQ(outcome(errors, 2), "agreed: another rank failed");
}

TEST(AgreeOrThrow, EveryRankFailedOneAgreedLineEach) {
  const std::vector<std::string> errors = {"no device", "no device"};
  EXPECT_EQ(outcome(errors, 0), "agreed: every rank failed here; rank 0: no device");
  EXPECT_EQ(outcome(errors, 1), "agreed: every rank failed here; rank 1: no device");
  EXPECT_EQ(outcome({"no device"}, 0), "agreed: no device");  // (one rank: the reason alone)
}

TEST(AgreedErrors, RankErrorIsAnAgreedErrorIsAnError) {
  try {
    throw RankError("x");
  } catch (const AgreedError& e) {
    EXPECT_STREQ(e.what(), "x");
  }
  try {
    throw_unless_all_ok(false, "", "others");
  } catch (const RankError&) {
    ADD_FAILURE() << "the ranks that did not fail throw an AgreedError, not a RankError";
  } catch (const AgreedError& e) {
    EXPECT_STREQ(e.what(), "others");
  }
  EXPECT_THROW(throw NanLogitsError("nan"), Error);
}

}  // namespace
}  // namespace gqa
