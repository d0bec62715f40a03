#include "kernels/cuda/cuda_check.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cuda/device_fault.h"

namespace gqa::cuda {

void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line) {
  std::ostringstream os;
  os << call << " failed: " << cudaGetErrorName(err) << " (" << cudaGetErrorString(err) << ")";
  // A kernel that trapped after writing the fault record (device_fault.h): what it said. (Any error
  // may be the sticky one a trap left, reported by whichever call came next.)
  if (const std::string fault = describe_device_fault(); !fault.empty()) os << "; " << fault;
  throw_error(os.str(), file, line);
}

void throw_cublas_error(cublasStatus_t st, const char* call, const char* file, int line) {
  std::ostringstream os;
  os << call << " failed: " << cublasGetStatusName(st) << " (" << cublasGetStatusString(st) << ")";
  throw_error(os.str(), file, line);
}

bool parse_switch_value(const char* name, const char* value, bool default_on) {
  if (value == nullptr || *value == '\0') return default_on;
  std::string v(value);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (v == "1" || v == "true" || v == "on" || v == "yes") return true;
  if (v == "0" || v == "false" || v == "off" || v == "no") return false;
  throw_error(std::string(name) + "=" + value + ": expected 1 or 0 (true/false, on/off, yes/no)");
}

bool env_switch(const char* name, bool default_on) { return parse_switch_value(name, std::getenv(name), default_on); }

namespace {
std::vector<const char*>& switch_names() {
  static std::vector<const char*> names;
  return names;
}
}  // namespace

bool register_env_switch(const char* name) {
  switch_names().push_back(name);
  return true;
}

void check_env_switches() {
  for (const char* name : switch_names()) (void)env_switch(name, false);
}

std::vector<std::string> registered_env_switches() { return {switch_names().begin(), switch_names().end()}; }

[[maybe_unused]] static const bool sync_debug_registered = register_env_switch("GQA_CUDA_SYNC_DEBUG");

bool sync_debug_enabled() {
  static const bool on = env_switch("GQA_CUDA_SYNC_DEBUG", false);
  return on;
}

void check_launch(const char* kernel, const char* file, int line) {
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess && sync_debug_enabled()) err = cudaDeviceSynchronize();
  if (err != cudaSuccess) throw_cuda_error(err, kernel, file, line);
}

}  // namespace gqa::cuda
