// GoogleTest main for the single-process tests: GoogleTest's own, but a program whose every test
// case skipped exits 77 (support/skip_exit.h), which CTest reports as skipped.
#include <gtest/gtest.h>

#include "tests/support/skip_exit.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return gqa::test::exit_status(RUN_ALL_TESTS());
}
