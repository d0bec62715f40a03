#include "core/deadline.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "core/error.h"
#include "core/stopped_time.h"

namespace gqa {

Deadline::Deadline(double limit_s, std::string what) : limit_s_(limit_s) {
  GQA_CHECK(limit_s >= 0, "Deadline: limit " << limit_s << " s for " << what << " is not a number >= 0");
  // The line is made here, so that the watcher writes it with one write(2): no stdio lock (the
  // stuck thread may hold stderr's), no allocation.
  char limit[32];
  std::snprintf(limit, sizeof(limit), "%g", limit_s);
  message_ = what + " has not returned after " + limit + " s; ending the process\n";
  if (limit_s_ > 0 && limit_s_ <= kMaxLimitS) thread_ = std::thread([this] { watch(); });
}

Deadline::~Deadline() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

// The limit counts the time the process ran (core/stopped_time.h): a job suspended inside the
// watched call for longer than the limit, and resumed, goes on.
void Deadline::watch() {
  const auto limit_ns = static_cast<int64_t>(limit_s_ * 1e9);  // (<= kMaxLimitS: no overflow)
  // ticks 4 a limit, between 1 ms and 250 ms apart
  const int64_t period_ns = std::min<int64_t>(std::max<int64_t>(limit_ns / 4, 1'000'000), 250'000'000);
  StoppedTime ticks(period_ns);
  const int64_t start = steady_now_ns();
  int64_t stopped_ns = 0;
  {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (cv_.wait_for(lock, std::chrono::nanoseconds(period_ns), [this] { return done_; })) return;
      const int64_t now = steady_now_ns();
      stopped_ns += ticks.tick(now);
      if (now - start - stopped_ns > limit_ns) break;
    }
  }
  ssize_t ignored = ::write(STDERR_FILENO, message_.data(), message_.size());
  (void)ignored;
  std::_Exit(1);
}

double seconds_from_env(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const double s = std::strtod(v, &end);
  GQA_CHECK(end != v && *end == '\0' && s >= 0 && !std::isnan(s),
            name << "=" << v << ": expected a number of seconds >= 0 (0 or inf: no limit)");
  return s;
}

}  // namespace gqa
