#include "core/deadline.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "core/error.h"

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

void Deadline::watch() {
  const auto end = std::chrono::steady_clock::now() +
                   std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(limit_s_));
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_until(lock, end, [this] { return done_; })) return;
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
