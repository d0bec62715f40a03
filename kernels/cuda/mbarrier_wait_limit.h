// How long the kernels' watchdogs (mbarrier_wait.cuh, the persistent MLP's grid barrier) let a wait
// run before they trap: orders of magnitude past any legitimate wait, also under
// compute-sanitizer or with the GPU time-sliced between processes. A plain header: the host's
// description of a watchdog's fault (device_fault.cpp) says it too.
#pragma once

#include <cstdint>

namespace gqa::cuda {

constexpr uint64_t kMbarrierWatchdogNs = 10ull * 1000 * 1000 * 1000;  // 10 s

}  // namespace gqa::cuda
