// For tests of time limits that must not count time the process was stopped (core/stopped_time.h):
// runs `body` in a forked child, stops the child (SIGSTOP) for `stop_s` seconds once the body says
// it is inside the limited call (by calling the `ready` it is given), then continues it (SIGCONT),
// and returns the child's wait status. The child ends with exit status 0 when the body returns.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <thread>

namespace gqa::test {

inline int status_of_stopped_child(const std::function<void(const std::function<void()>& ready)>& body, double stop_s) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) {
    ADD_FAILURE() << "pipe failed";
    return -1;
  }
  const pid_t child = ::fork();
  if (child < 0) {
    ADD_FAILURE() << "fork failed";
    return -1;
  }
  if (child == 0) {
    body([&] {
      const char one = 1;
      if (::write(pipe_fds[1], &one, 1) != 1) std::_Exit(3);
    });
    std::_Exit(0);
  }
  char byte = 0;
  int status = -1;
  if (::read(pipe_fds[0], &byte, 1) == 1 && ::kill(child, SIGSTOP) == 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(stop_s));
    EXPECT_EQ(::kill(child, SIGCONT), 0);
  } else {
    ADD_FAILURE() << "the child never said it was ready, or could not be stopped";
  }
  EXPECT_EQ(::waitpid(child, &status, 0), child);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  return status;
}

}  // namespace gqa::test
