#include "parallel/collective_watch.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>

#include "core/deadline.h"
#include "core/stopped_time.h"

namespace gqa {
namespace {

std::atomic<int> g_depth{0};
std::atomic<int64_t> g_since_ns{0};  // when the outermost watch began (steady clock); 0: none
std::atomic<const char*> g_what{nullptr};
std::atomic<int> g_rank{-1};

// The watcher: never returns (a detached thread; the process's exit ends it). A wait's time is the
// time since it began less the time the process was stopped within it (core/stopped_time.h): a job suspended for longer than the limit and resumed goes on, and a rank stopped
// while its peers wait is not the one to blame itself when it runs again.
void watch(double limit_s) {
  const auto limit_ns = static_cast<int64_t>(limit_s * 1e9);
  const auto period = std::chrono::milliseconds(limit_s < 4 ? 250 : 1000);
  const int64_t period_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(period).count();
  StoppedTime ticks(period_ns);
  int64_t watched = 0, stopped_ns = 0;
  for (;;) {
    std::this_thread::sleep_for(period);
    const int64_t now = steady_now_ns(), stopped = ticks.tick(now);
    const int64_t since = g_since_ns.load(std::memory_order_acquire);
    if (since != watched) {  // (another wait, or none: its own stopped time)
      watched = since;
      stopped_ns = 0;
    }
    if (since != 0) stopped_ns += std::min(stopped, now - since);
    if (since == 0 || now - since - stopped_ns <= limit_ns) continue;
    // One write(2) of a line made here (the stuck thread may hold stderr's lock; no allocation).
    char line[256];
    const char* what = g_what.load(std::memory_order_acquire);
    // The wait read above may have ended, and another begun, between the two loads: its name is
    // then the next one's (stored before its start, after the last one's end), so start over.
    if (g_since_ns.load(std::memory_order_acquire) != since) continue;
    const int n = std::snprintf(line, sizeof(line),
                                "gqa: rank %d has waited %.0f s in %s for the other ranks; ending the process "
                                "(GQA_COLLECTIVE_TIMEOUT_S=%g)\n",
                                g_rank.load(), static_cast<double>(now - since - stopped_ns) / 1e9,
                                what != nullptr ? what : "a collective", limit_s);
    if (n > 0) {
      const ssize_t ignored = ::write(STDERR_FILENO, line, static_cast<size_t>(n) < sizeof(line) ? n : sizeof(line) - 1);
      (void)ignored;
    }
    std::_Exit(1);
  }
}

}  // namespace

double collective_timeout_s(bool warn) {
  static const double limit = [warn] {
    double s = CollectiveWatch::kDefaultLimitS;
    try {
      s = seconds_from_env("GQA_COLLECTIVE_TIMEOUT_S", CollectiveWatch::kDefaultLimitS);
    } catch (const std::exception& e) {  // (read inside a collective: never throw there)
      if (warn) {
        std::fprintf(stderr, "gqa: warning: %s; using the default, %g s\n", e.what(), CollectiveWatch::kDefaultLimitS);
      }
    }
    return s > Deadline::kMaxLimitS ? 0.0 : s;
  }();
  return limit;
}

CollectiveWatch::CollectiveWatch(int rank, const char* what) {
  const double limit = collective_timeout_s(rank == 0);
  if (limit <= 0) return;
  static std::once_flag started;
  std::call_once(started, [limit] {
    try {
      std::thread([limit] { watch(limit); }).detach();
    } catch (const std::exception& e) {  // (no thread to spare: go on unwatched, never throw here)
      std::fprintf(stderr, "gqa: warning: no thread for the collective watch (%s): collectives are not timed\n",
                   e.what());
    }
  });
  counted_ = true;
  if (g_depth.fetch_add(1) != 0) return;
  outermost_ = true;
  g_rank.store(rank);
  g_what.store(what, std::memory_order_release);
  g_since_ns.store(steady_now_ns(), std::memory_order_release);
}

CollectiveWatch::~CollectiveWatch() {
  if (!counted_) return;
  if (outermost_) g_since_ns.store(0, std::memory_order_release);
  g_depth.fetch_sub(1);
}

}  // namespace gqa
