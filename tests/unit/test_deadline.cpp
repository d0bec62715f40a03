// core/deadline.h: a Deadline ends the process with status 1 and its message when it outlives its
// limit (the time limit on ncclCommInitRank and on each multi-rank test case), and does nothing
// when destroyed first or given no limit, and does not count time the process was stopped;
// seconds_from_env refuses what is not a number of seconds.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <thread>

#include "core/deadline.h"
#include "core/error.h"
#include "tests/support/expect_error.h"
#include "tests/support/stopped_child.h"

namespace gqa {
namespace {

using test::expect_error;

TEST(DeadlineDeathTest, OutlivingTheLimitEndsTheProcessWithItsMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        Deadline d(0.05, "rank 3: a stuck call");
        std::this_thread::sleep_for(std::chrono::seconds(30));
      },
      ::testing::ExitedWithCode(1), "rank 3: a stuck call has not returned after 0.05 s; ending the process");
}

TEST(Deadline, DestroyedBeforeTheLimitOrWithNoneItDoesNothing) {
  const auto t0 = std::chrono::steady_clock::now();
  { Deadline d(60, "a quick call"); }  // (disarmed: its destructor does not wait out the 60 s)
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  {
    Deadline none(0, "no limit");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (double none : {1e10, 1e300, static_cast<double>(INFINITY)}) {  // (past kMaxLimitS: no limit; 1e10 ended
    Deadline far(none, "a long call");                                 //  the process at once, its nanoseconds
    std::this_thread::sleep_for(std::chrono::milliseconds(20));        //  overflowing)
  }
  expect_error([] { Deadline bad(-1, "x"); }, "Deadline: limit -1 s for x is not a number >= 0");
}

// A process stopped (SIGSTOP, a batch scheduler's suspend) and continued inside a deadline's call
// goes on: the stopped time is not the call's. A child process sleeps 1 s (ten 0.1 s sleeps)
// under a 2 s Deadline; its parent stops it for 4 s at the start of that sleep. Counted as wall
// time, the watcher would end it (exit 1) on its first tick after the continue.
TEST(Deadline, TimeTheProcessWasStoppedDoesNotCount) {
  const int status = test::status_of_stopped_child(
      [](const std::function<void()>& ready) {
        const Deadline d(2, "a stopped call");
        ready();
        for (int i = 0; i < 10; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      },
      4);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the Deadline counted the 4 s the process was stopped";
}

TEST(Deadline, SecondsFromEnvTakesOnlyANumberOfSeconds) {
  const char* name = "GQA_TEST_DEADLINE_SECONDS";
  unsetenv(name);
  EXPECT_EQ(seconds_from_env(name, 300), 300);
  setenv(name, "", 1);
  EXPECT_EQ(seconds_from_env(name, 300), 300);
  setenv(name, "2.5", 1);
  EXPECT_EQ(seconds_from_env(name, 300), 2.5);
  setenv(name, "0", 1);
  EXPECT_EQ(seconds_from_env(name, 300), 0);
  setenv(name, "inf", 1);
  EXPECT_EQ(seconds_from_env(name, 300), INFINITY);
  for (const char* bad : {"abc", "-1", "-inf", "nan", "5s"}) {
    setenv(name, bad, 1);
    expect_error([&] { seconds_from_env(name, 300); },
                 std::string(name) + "=" + bad + ": expected a number of seconds >= 0 (0 or inf: no limit)");
  }
  unsetenv(name);
}

}  // namespace
}  // namespace gqa
