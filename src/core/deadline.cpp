#include "core/deadline.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "core/error.h"

namespace gqa {

Deadline::Deadline(double limit_s, std::string what) : limit_s_(limit_s), what_(std::move(what)) {
  GQA_CHECK(std::isfinite(limit_s) && limit_s >= 0, "Deadline: limit " << limit_s << " s for " << what_
                                                                        << " is not a finite number >= 0");
  if (limit_s_ > 0) thread_ = std::thread([this] { watch(); });
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
  std::unique_lock<std::mutex> lock(mu_);
  if (cv_.wait_for(lock, std::chrono::duration<double>(limit_s_), [this] { return done_; })) return;
  std::fprintf(stderr, "%s has not returned after %g s; ending the process\n", what_.c_str(), limit_s_);
  std::fflush(stderr);
  std::_Exit(1);
}

double seconds_from_env(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const double s = std::strtod(v, &end);
  GQA_CHECK(end != v && *end == '\0' && std::isfinite(s) && s >= 0,
            name << "=" << v << ": expected a number of seconds >= 0 (0: no limit)");
  return s;
}

}  // namespace gqa
