// What a watcher thread's ticks say about the time its process was not running: stopped (SIGSTOP,
// a batch scheduler's suspend and resume) or its machine asleep. The watcher sleeps `period`
// between ticks; a tick that comes more than kLateNs after its period found the process not
// running, not waiting, for that long. A time limit that counts only running time (the collective
// watch, parallel/collective_watch.h; the Deadline, core/deadline.h) subtracts it, so a job
// suspended for longer than its limit and resumed goes on.
#pragma once

#include <chrono>
#include <cstdint>

namespace gqa {

// The steady clock in nanoseconds.
inline int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class StoppedTime {
 public:
  static constexpr int64_t kLateNs = 1'000'000'000;
  // From now, ticks `period_ns` apart.
  explicit StoppedTime(int64_t period_ns) : period_ns_(period_ns), last_tick_ns_(steady_now_ns()) {}
  // The tick at `now_ns` (steady_now_ns()): how long the process was not running since the last
  // tick (its lateness past the period, where that exceeds kLateNs), else 0.
  int64_t tick(int64_t now_ns) {
    const int64_t late = now_ns - last_tick_ns_ - period_ns_;
    last_tick_ns_ = now_ns;
    return late > kLateNs ? late : 0;
  }

 private:
  int64_t period_ns_;
  int64_t last_tick_ns_;
};

}  // namespace gqa
