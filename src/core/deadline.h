// A time limit on a blocking call that has none of its own (ncclCommInitRank; one multi-rank test
// case): while a Deadline lives, a thread waits; if it still lives `limit_s` seconds after it was
// made, the thread prints "<what> has not returned after N s; ending the process" to stderr and
// ends the process with exit status 1. std::_Exit, not MPI_Abort: the calling thread may be blocked
// inside MPI or NCCL; under mpirun a rank that exits before MPI_Finalize takes the whole job down.
// Destroying the Deadline disarms it. A limit of 0, or one past kMaxLimitS (inf included), sets
// none (no thread). The limit counts the time the process ran: time it was stopped (SIGSTOP, a
// batch scheduler's suspend) does not count (core/stopped_time.h).
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace gqa {

class Deadline {
 public:
  static constexpr double kMaxLimitS = 1e9;  // (~32 years: a longer one is no limit)
  Deadline(double limit_s, std::string what);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

 private:
  void watch();
  double limit_s_;
  std::string message_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Seconds from the environment variable `name`: `fallback` when unset or empty; gqa::Error naming
// the variable for anything but a number >= 0 (inf allowed: no limit).
double seconds_from_env(const char* name, double fallback);

}  // namespace gqa
