// Errors: one exception type for everything gqa reports to a user.
// Messages name what failed (file, tensor, call) so one line is enough to act on.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace gqa {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An error every rank throws at the same point, after a collective that told them all (an
// agreement, or data every rank holds alike): the ranks are in step, none is left waiting in a
// collective, so a program may end every rank normally instead of aborting the job. One that is
// not a RankError says the same on every rank, or names another rank's failure: rank 0 prints it.
class AgreedError : public Error {
 public:
  using Error::Error;
};

// An agreed error this rank saw and the others did not (they learn only that another rank failed,
// from the agreement): every rank that throws one should print it.
class RankError : public AgreedError {
 public:
  using AgreedError::AgreedError;
};

// A row of logits holding a NaN, found where a backend samples or selects from them (a fact of the
// data, not of a device fault: the Model turns it into an AgreedError where every rank sees it).
class NanLogitsError : public Error {
 public:
  using Error::Error;
};

// The end of an agreement across ranks (`all_ok`: every rank's answer to whether it succeeded):
// nothing when all did; else a RankError with this rank's `local_error` where it failed, and an
// AgreedError saying `others_failed` on the ranks that did not. Every rank throws together.
inline void throw_unless_all_ok(bool all_ok, const std::string& local_error, const std::string& others_failed) {
  if (all_ok) return;
  if (!local_error.empty()) throw RankError(local_error);
  throw AgreedError(others_failed);
}

// The same agreement made by `all_ok` (a collective: every rank's answer to whether `ok` holds on
// every rank), with one more where it fails: when it failed on every rank, an AgreedError with
// this rank's reason ("every rank failed here; rank R: ..."), which rank 0 alone prints, instead
// of np lines (np 1: the reason alone).
template <class AllOk>
void agree_or_throw(AllOk&& all_ok, int rank, int size, const std::string& local_error,
                    const std::string& others_failed) {
  if (all_ok(local_error.empty())) return;
  if (all_ok(!local_error.empty())) {
    if (size == 1) throw AgreedError(local_error);
    throw AgreedError("every rank failed here; rank " + std::to_string(rank) + ": " + local_error);
  }
  throw_unless_all_ok(false, local_error, others_failed);
}

// The one line to show a user for `e`: its what(), except for std::filesystem's errors, whose
// what() ("filesystem error: status: Permission denied [PATH]") reads as the library's: there
// "cannot access PATH: Permission denied".
std::string error_text(const std::exception& e);

// Throws gqa::Error with `message`; `where` is "file:line" for API-call failures, empty otherwise.
[[noreturn]] void throw_error(const std::string& message, const char* file = nullptr, int line = 0);

}  // namespace gqa

// GQA_CHECK(cond, a << b << c): throws gqa::Error with the streamed message when cond is false.
#define GQA_CHECK(cond, msg)                  \
  do {                                        \
    if (!(cond)) {                            \
      std::ostringstream gqa_check_os_;       \
      gqa_check_os_ << msg;                   \
      ::gqa::throw_error(gqa_check_os_.str()); \
    }                                         \
  } while (0)

#define GQA_FAIL(msg)                       \
  do {                                      \
    std::ostringstream gqa_fail_os_;        \
    gqa_fail_os_ << msg;                    \
    ::gqa::throw_error(gqa_fail_os_.str()); \
  } while (0)
