// CollectiveWatch (parallel/collective_watch.h): a wait past GQA_COLLECTIVE_TIMEOUT_S ends the
// process with status 1 and one line naming the rank and the wait; the limit is per wait (several
// shorter ones in a row pass), nested watches count as the outermost, 0 sets none, and a bad value
// warns and keeps the default. Each case runs in a child process (gtest death tests): the limit is
// read once per process and the watcher ends its process.
#include "parallel/collective_watch.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>

#include "tests/support/stopped_child.h"

namespace gqa {
namespace {

void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

TEST(CollectiveWatchDeathTest, AWaitPastTheLimitEndsTheProcessNamingIt) {
  EXPECT_EXIT(
      {
        ::setenv("GQA_COLLECTIVE_TIMEOUT_S", "0.5", 1);
        const CollectiveWatch watch(3, "a test wait");
        sleep_s(10);
        std::exit(0);
      },
      ::testing::ExitedWithCode(1),
      "gqa: rank 3 has waited [0-9]+ s in a test wait for the other ranks; ending the process "
      "\\(GQA_COLLECTIVE_TIMEOUT_S=0.5\\)");
}

TEST(CollectiveWatchDeathTest, NestedWatchesCountAsTheOutermost) {
  EXPECT_EXIT(
      {
        ::setenv("GQA_COLLECTIVE_TIMEOUT_S", "0.5", 1);
        const CollectiveWatch outer(0, "the outer wait");
        { const CollectiveWatch inner(0, "an inner wait"); }
        const CollectiveWatch inner(0, "another inner wait");
        sleep_s(10);
        std::exit(0);
      },
      ::testing::ExitedWithCode(1), "in the outer wait for the other ranks");
}

// A process stopped inside a wait for longer than the limit (SIGSTOP, as a batch scheduler's
// suspend) and then continued goes on: the stopped time is not waiting. A child process waits 1 s
// (ten 0.1 s sleeps) under a 2 s limit; its parent stops it for 4 s at the start of that wait.
// Counted as wall time, the watcher would end it (exit 1) on its first tick after the continue.
TEST(CollectiveWatch, TimeStoppedInAWaitDoesNotCount) {
  const int status = test::status_of_stopped_child(
      [](const std::function<void()>& ready) {
        ::setenv("GQA_COLLECTIVE_TIMEOUT_S", "2", 1);
        const CollectiveWatch watch(0, "a stopped wait");
        ready();
        for (int i = 0; i < 10; ++i) sleep_s(0.1);
      },
      4);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the watcher counted the 4 s the process was stopped";
}

TEST(CollectiveWatchDeathTest, TheLimitIsPerWait) {
  EXPECT_EXIT(
      {
        ::setenv("GQA_COLLECTIVE_TIMEOUT_S", "1", 1);
        for (int i = 0; i < 4; ++i) {  // 2.4 s in all, each wait well under 1 s
          const CollectiveWatch watch(0, "a short wait");
          sleep_s(0.6);
        }
        sleep_s(1.5);  // (outside any wait)
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// 0, and a value past Deadline::kMaxLimitS (inf), set no limit (not an overflow of the ns count).
TEST(CollectiveWatchDeathTest, ZeroAndInfinitySetNoLimit) {
  for (const char* value : {"0", "inf"}) {
    EXPECT_EXIT(
        {
          ::setenv("GQA_COLLECTIVE_TIMEOUT_S", value, 1);
          if (collective_timeout_s() != 0.0) std::exit(2);
          const CollectiveWatch watch(0, "a long wait");
          sleep_s(1.5);
          std::exit(0);
        },
        ::testing::ExitedWithCode(0), "")
        << "GQA_COLLECTIVE_TIMEOUT_S=" << value;
  }
}

TEST(CollectiveWatchDeathTest, ABadValueWarnsAndKeepsTheDefault) {
  EXPECT_EXIT(
      {
        ::setenv("GQA_COLLECTIVE_TIMEOUT_S", "30m", 1);
        if (collective_timeout_s() != CollectiveWatch::kDefaultLimitS) std::exit(2);
        const CollectiveWatch watch(0, "a wait");
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "warning: GQA_COLLECTIVE_TIMEOUT_S=30m: expected a number of seconds");
}

// The warning is rank 0's: a job prints it once, not once a rank (the other ranks keep the default
// silently).
TEST(CollectiveWatchDeathTest, ABadValueWarnsOnRankZeroOnly) {
  EXPECT_EXIT(
      {
        ::setenv("GQA_COLLECTIVE_TIMEOUT_S", "30m", 1);
        std::FILE* said = std::tmpfile();  // (stderr into a file, to see that nothing was said)
        if (said == nullptr || ::dup2(::fileno(said), 2) < 0) std::exit(4);
        { const CollectiveWatch watch(1, "a wait"); }
        std::fflush(stderr);
        if (std::ftell(said) != 0 || std::fseek(said, 0, SEEK_END) != 0 || std::ftell(said) != 0) std::exit(3);
        if (collective_timeout_s() != CollectiveWatch::kDefaultLimitS) std::exit(2);
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace gqa
