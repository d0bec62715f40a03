// Checks for every CUDA runtime and cuBLAS call: a failure throws gqa::Error naming the call,
// the error string, file and line. GQA_CUDA_SYNC_DEBUG=1 in the environment makes every kernel
// launch check synchronize, so an asynchronous fault is reported at the kernel that caused it.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <atomic>
#include <string>
#include <vector>

#include "core/error.h"

namespace gqa::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t st, const char* call, const char* file, int line);
void check_launch(const char* kernel, const char* file, int line);
bool sync_debug_enabled();
// An on/off switch's value: "1", "true", "on", "yes" on; "0", "false", "off", "no" off (any
// case); unset or "" `default_on`. Throws gqa::Error naming the variable for anything else (a
// typo must not leave a kernel on or off silently).
bool parse_switch_value(const char* name, const char* value, bool default_on);
// A process-wide switch from the environment variable `name` (parse_switch_value).
bool env_switch(const char* name, bool default_on);
// Every switch's variable is registered at static initialisation (GQA_PROCESS_SWITCH does it), so
// check_env_switches can refuse a bad value up front (the CUDA backend's constructor), before the
// switch is first read somewhere in the middle of a run.
bool register_env_switch(const char* name);
void check_env_switches();
// The registered variables' names, in registration order (tests: every one is checked).
std::vector<std::string> registered_env_switches();

// An on/off switch of the whole process: env_switch(env_name, default_on) at first use, settable
// afterwards (tests, benchmarks). One per switch, as a function-local static.
class ProcessSwitch {
 public:
  ProcessSwitch(const char* env_name, bool default_on) : on_(env_switch(env_name, default_on)) {}
  bool get() const { return on_.load(std::memory_order_relaxed); }
  void set(bool on) { on_.store(on, std::memory_order_relaxed); }

 private:
  std::atomic<bool> on_;
};

// Defines `bool getter()` and `void setter(bool)` over one ProcessSwitch read from env_name, in the
// enclosing namespace: the whole definition of a switch declared in a header (e.g. pdl.h).
#define GQA_PROCESS_SWITCH(getter, setter, env_name, default_on)                      \
  [[maybe_unused]] static const bool getter##_registered = ::gqa::cuda::register_env_switch(env_name); \
  static ::gqa::cuda::ProcessSwitch& getter##_switch() {                              \
    static ::gqa::cuda::ProcessSwitch s{env_name, default_on};                        \
    return s;                                                                         \
  }                                                                                   \
  bool getter() { return getter##_switch().get(); }                                   \
  void setter(bool on) { getter##_switch().set(on); }

// Sets a process-wide setting (given by its getter and setter, e.g. pdl_enabled / set_pdl) for a
// scope; the previous value is back however the scope ends.
template <typename V, typename SetArg = V>
class ScopedSetting {
 public:
  ScopedSetting(V (*get)(), void (*set)(SetArg), const V& value) : set_(set), was_(get()) { set(value); }
  ~ScopedSetting() { set_(was_); }
  ScopedSetting(const ScopedSetting&) = delete;
  ScopedSetting& operator=(const ScopedSetting&) = delete;

 private:
  void (*set_)(SetArg);
  V was_;
};
using ScopedSwitch = ScopedSetting<bool>;

}  // namespace gqa::cuda

#define GQA_CUDA_CHECK(call)                                                         \
  do {                                                                               \
    const cudaError_t gqa_cuda_err_ = (call);                                        \
    if (gqa_cuda_err_ != cudaSuccess)                                                \
      ::gqa::cuda::throw_cuda_error(gqa_cuda_err_, #call, __FILE__, __LINE__);       \
  } while (0)

#define GQA_CUBLAS_CHECK(call)                                                       \
  do {                                                                               \
    const cublasStatus_t gqa_cublas_st_ = (call);                                    \
    if (gqa_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                     \
      ::gqa::cuda::throw_cublas_error(gqa_cublas_st_, #call, __FILE__, __LINE__);    \
  } while (0)

// After every <<<...>>> launch.
#define GQA_CUDA_LAUNCH_CHECK(kernel_name) ::gqa::cuda::check_launch(kernel_name, __FILE__, __LINE__)
