// GoogleTest main for multi-rank tests (run by CTest under mpirun -np 1, 2, 4).
// Rank 0 prints the usual report; other ranks print only their failures, tagged with the rank.
// A test case still running after GQA_TEST_CASE_TIMEOUT_S seconds (default 300; 0: no limit, e.g.
// under a debugger) ends this process
// with its name: when a failure on one rank leaves the others waiting in a collective, the job
// ends there (mpirun takes the other ranks down) instead of at CTest's limit, without saying where.
// The exit code is non-zero if any rank failed, so a failure on rank 3 fails the job; 77 (CTest's
// "skipped", support/skip_exit.h) if every rank skipped every test case.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "parallel/bootstrap.h"
#include "tests/support/skip_exit.h"

namespace {

// Failure-only printer for ranks > 0.
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}

  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: Failure\n%s\n", rank_,
                 r.file_name() ? r.file_name() : "?", r.line_number(), r.summary());
    std::fflush(stderr);
  }
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (!info.result()->Failed()) return;
    std::fprintf(stderr, "[rank %d] [  FAILED  ] %s.%s\n", rank_, info.test_suite_name(), info.name());
    std::fflush(stderr);
  }

 private:
  int rank_;
};

// The watchdog: a thread that ends the process when one test case runs past the limit.
class CaseWatchdog : public ::testing::EmptyTestEventListener {
 public:
  CaseWatchdog(int rank, double limit_s) : rank_(rank), limit_(limit_s) {
    thread_ = std::thread([this] { watch(); });
  }
  ~CaseWatchdog() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void OnTestStart(const ::testing::TestInfo& info) override {
    std::lock_guard<std::mutex> lock(mu_);
    name_ = std::string(info.test_suite_name()) + "." + info.name();
    start_ = std::chrono::steady_clock::now();
    running_ = true;
  }
  void OnTestEnd(const ::testing::TestInfo&) override {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = false;
  }

 private:
  void watch() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, std::chrono::duration<double>(std::min(1.0, limit_ / 4)));
      if (!running_ || std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count() < limit_) {
        continue;
      }
      std::fprintf(stderr, "[rank %d] %s still running after %g s (GQA_TEST_CASE_TIMEOUT_S): ending the job\n",
                   rank_, name_.c_str(), limit_);
      std::fflush(stderr);
      std::_Exit(1);  // (not MPI_Abort: the main thread may be inside MPI; mpirun ends the other ranks)
    }
  }
  int rank_;
  double limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, running_ = false;
  std::string name_;
  std::chrono::steady_clock::time_point start_;
  std::thread thread_;
};

double case_limit_s() {
  const char* v = std::getenv("GQA_TEST_CASE_TIMEOUT_S");
  if (v == nullptr || *v == '\0') return 300.0;
  char* end = nullptr;
  const double s = std::strtod(v, &end);
  if (end == v || *end != '\0' || !(s >= 0)) {
    std::fprintf(stderr, "GQA_TEST_CASE_TIMEOUT_S=%s: expected a number of seconds (0: no limit)\n", v);
    std::exit(2);
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  gqa::MpiSession session(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  if (session.world_rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailurePrinter(session.world_rank()));
  }
  // (appended last, owned by GoogleTest's listener list, which outlives RUN_ALL_TESTS)
  const double limit_s = case_limit_s();
  if (limit_s > 0) ::testing::UnitTest::GetInstance()->listeners().Append(new CaseWatchdog(session.world_rank(), limit_s));
  int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int any_failed = failed;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (any_failed && !failed) {
    std::fprintf(stderr, "[rank %d] passed, but another rank failed\n", session.world_rank());
  }
  int skipped = gqa::test::all_cases_skipped() ? 1 : 0;
  int all_skipped = skipped;
  MPI_Allreduce(&skipped, &all_skipped, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (any_failed) return 1;
  return all_skipped ? gqa::test::kSkipExitCode : 0;
}
