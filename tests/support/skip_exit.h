// The exit status a test program gives CTest: 77 (the tests' SKIP_RETURN_CODE) when it passed with
// every test case skipped (a GPU test on a machine without one), so CTest reports it as skipped,
// not passed; otherwise RUN_ALL_TESTS()'s status.
#pragma once

#include <gtest/gtest.h>

namespace gqa::test {

constexpr int kSkipExitCode = 77;

// Whether this process ran test cases and skipped every one of them.
inline bool all_cases_skipped() {
  const ::testing::UnitTest& u = *::testing::UnitTest::GetInstance();
  return u.successful_test_count() == 0 && u.failed_test_count() == 0 && u.skipped_test_count() > 0;
}

inline int exit_status(int run_all_tests_status) {
  return run_all_tests_status == 0 && all_cases_skipped() ? kSkipExitCode : run_all_tests_status;
}

}  // namespace gqa::test
