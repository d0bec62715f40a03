// The GPU's global timer, in nanoseconds (wall time, whatever the SM clock): the watchdogs'
// (mbarrier_wait.cuh, the persistent MLP's grid barrier), the fault record's (device_fault.cuh)
// and gqa-bench's clock probe's.
#pragma once

#include <cstdint>

namespace gqa::cuda {

__device__ __forceinline__ uint64_t global_timer_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

}  // namespace gqa::cuda
