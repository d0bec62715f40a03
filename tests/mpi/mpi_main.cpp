// GoogleTest main for multi-rank tests (run by CTest under mpirun -np 1, 2, 4).
// Rank 0 prints the usual report; other ranks print only their failures, tagged with the rank.
// A test case still running after GQA_TEST_CASE_TIMEOUT_S seconds (default 300; 0: no limit, e.g.
// under a debugger) ends this process
// with its name: when a failure on one rank leaves the others waiting in a collective, the job
// ends there (mpirun takes the other ranks down) instead of at CTest's limit, without saying where.
// The exit code is non-zero if any rank failed, so a failure on rank 3 fails the job; 77 (CTest's
// "skipped", support/skip_exit.h) if every rank skipped every test case.
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "core/deadline.h"
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

// The watchdog: a Deadline for each test case, which ends the process past the limit.
class CaseWatchdog : public ::testing::EmptyTestEventListener {
 public:
  CaseWatchdog(int rank, double limit_s) : rank_(rank), limit_(limit_s) {}
  void OnTestStart(const ::testing::TestInfo& info) override {
    deadline_ = std::make_unique<gqa::Deadline>(
        limit_, "[rank " + std::to_string(rank_) + "] " + info.test_suite_name() + "." + info.name() +
                    " (GQA_TEST_CASE_TIMEOUT_S)");
  }
  void OnTestEnd(const ::testing::TestInfo&) override { deadline_.reset(); }

 private:
  int rank_;
  double limit_;
  std::unique_ptr<gqa::Deadline> deadline_;
};

double case_limit_s() {
  try {
    return gqa::seconds_from_env("GQA_TEST_CASE_TIMEOUT_S", 300.0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::exit(2);
  }
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
