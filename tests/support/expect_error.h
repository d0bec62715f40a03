// expect_error(f, {"part", ...}): runs f and expects a gqa::Error whose message contains every part,
// so bad-input tests check that the message names the file, tensor or field, not just that it threw.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "core/error.h"

namespace gqa::test {

template <typename F>
void expect_error(F f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "expected gqa::Error mentioning " << *parts.begin();
  } catch (const Error& e) {
    for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

template <typename F>
void expect_error(F f, const std::string& part) {
  expect_error(f, {part});
}

}  // namespace gqa::test
