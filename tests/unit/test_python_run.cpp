// gqa-bench's peer runner (launch/gqa_bench/python_run.h) on stand-in scripts run by bash: the
// result line parsed, the reasons a run gives no result (a timeout, a missing interpreter, a
// failed exit with its last lines, a script's own "skipped", a kill before the limit), and paths
// and arguments that need quoting.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "launch/gqa_bench/python_run.h"

namespace gqa::bench {
namespace {

namespace fs = std::filesystem;

class PythonRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("gqa python run 'quoted' " + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // A script named `name` in the test's folder (a name with a space and a quote: run_python quotes it).
  void script(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  PythonRun run(const std::string& name, double timeout_s = 30, const std::string& python = "bash") {
    return run_python(python, dir_.string(), name, {"it's", "two words"}, timeout_s);
  }
  fs::path dir_;
};

TEST_F(PythonRunTest, ResultLineParsedArgumentsQuoted) {
  script("ok 1.sh",
         "echo progress\n"
         "echo \"GQA_BENCH_JSON {\\\"status\\\": \\\"ok\\\", \\\"args\\\": [\\\"$1\\\", \\\"$2\\\"], \\\"n\\\": $#}\"\n");
  const PythonRun r = run("ok 1.sh");
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_TRUE(r.has_result);
  EXPECT_EQ(r.result.value("status", ""), "ok");
  EXPECT_EQ(r.result["args"][0], "it's");
  EXPECT_EQ(r.result["args"][1], "two words");
  EXPECT_EQ(r.result["n"], 2);
  EXPECT_EQ(r.tail, "progress");  // (the result line is not part of the tail)
}

TEST_F(PythonRunTest, TimeoutSaysSoAndEndsInTime) {
  script("slow.sh", "echo started\nsleep 60\n");
  const auto t0 = std::chrono::steady_clock::now();
  const PythonRun r = run("slow.sh", 1);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.exit_code, 124);
  EXPECT_FALSE(r.has_result);
  EXPECT_LT(secs, 20);  // (TERM at 1 s; KILL 10 s later at the latest)
  EXPECT_EQ(r.failure(), "timed out after 1 s (its share of --budget-s: a larger budget gives it more)");
}

TEST_F(PythonRunTest, TimeoutBelowOneSecondRunsForOne) {
  script("quick.sh", "echo 'GQA_BENCH_JSON {\"status\": \"ok\"}'\n");
  const PythonRun r = run("quick.sh", 0.01);
  EXPECT_EQ(r.timeout_s, 1);
  EXPECT_TRUE(r.has_result) << r.failure();
}

TEST_F(PythonRunTest, MissingInterpreter) {
  script("any.sh", "exit 0\n");
  const PythonRun r = run("any.sh", 30, "/nonexistent/python3");
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_EQ(r.failure(), "python not found");
}

TEST_F(PythonRunTest, FailedExitKeepsItsLastThreeLines) {
  script("fail.sh", "echo one\necho two\necho three\necho four\nexit 3\n");
  const PythonRun r = run("fail.sh");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.failure(), "exit 3 without a result: two / three / four");
}

TEST_F(PythonRunTest, ScriptsOwnSkipReason) {
  script("skip.sh", "echo 'GQA_BENCH_JSON {\"status\": \"skipped\", \"reason\": \"no torch\"}'\n");
  const PythonRun r = run("skip.sh");
  EXPECT_TRUE(r.has_result);
  EXPECT_EQ(r.failure(), "no torch");
}

TEST_F(PythonRunTest, UnparsableResultLineIsReported) {
  script("bad.sh", "echo 'GQA_BENCH_JSON {not json'\nexit 1\n");
  const PythonRun r = run("bad.sh");
  EXPECT_FALSE(r.has_result);
  EXPECT_NE(r.failure().find("unparsable result line"), std::string::npos) << r.failure();
}

TEST_F(PythonRunTest, KilledBySignal) {
  script("killed.sh", "kill -9 $$\n");
  const PythonRun r = run("killed.sh");
  EXPECT_EQ(r.exit_code, 137);  // (timeout(1) passes the child's death on as 128 + 9)
  EXPECT_FALSE(r.has_result);
  // (not "timed out", which 137 also means after timeout(1)'s own KILL: it ran well within 30 s)
  const std::string why = r.failure();
  EXPECT_EQ(why.rfind("killed by signal 9 after ", 0), 0u) << why;
  EXPECT_NE(why.find(" s, before its 30 s limit"), std::string::npos) << why;
}

// A script that ignores timeout(1)'s TERM is killed 10 s later (exit 137): past its limit, so a
// timeout, not a kill before it.
TEST_F(PythonRunTest, KillAfterTheIgnoredTermIsATimeout) {
  script("stubborn.sh", "trap '' TERM\nsleep 30\n");
  const PythonRun r = run("stubborn.sh", 1);
  EXPECT_EQ(r.exit_code, 137);
  EXPECT_GE(r.elapsed_s, 1.0);
  EXPECT_EQ(r.failure(), "timed out after 1 s (its share of --budget-s: a larger budget gives it more)");
}

TEST_F(PythonRunTest, LimitIsWholeSecondsAsTimeoutIsGivenIt) {
  script("quick.sh", "echo 'GQA_BENCH_JSON {\"status\": \"ok\"}'\n");
  EXPECT_EQ(run("quick.sh", 12.6).timeout_s, 13);  // (timeout(1) is given "13")
  EXPECT_EQ(run("quick.sh", 12.4).timeout_s, 12);
}

}  // namespace
}  // namespace gqa::bench
