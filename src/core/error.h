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

// An error this rank saw and the others did not (they learn only that another rank failed, from a
// collective agreement): every rank that throws one should print it, where an Error that all
// ranks throw alike is printed once, by rank 0.
class RankError : public Error {
 public:
  using Error::Error;
};

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
