// Waiting on an mbarrier phase, with a watchdog: a wait that has not completed after
// kMbarrierWatchdogNs of wall time (the GPU's global timer, whatever the clock frequency: orders
// of magnitude past any legitimate wait, also under compute-sanitizer or with the GPU time-sliced
// between processes) traps, so a synchronisation bug fails the kernel (an error the host sees at
// its next check, naming the barrier, block and thread: device_fault.h) instead of hanging the
// process and a whole time-boxed GPU check with it.
// Used by the kernels that hand work over through mbarriers (the decode attention's bulk-copy
// loader, the bulk GEMVs, the wgmma prefill's ping-pong and producer builds).
#pragma once

#include <cuda/ptx>

#include <cstdint>

#include "kernels/cuda/device_fault.cuh"
#include "kernels/cuda/global_timer.cuh"
#include "kernels/cuda/mbarrier_wait_limit.h"

namespace gqa::cuda {

// Returns once the phase with parity `parity` of the mbarrier at `bar` (shared memory) has completed.
// kRecord false: a bare trap, no fault record (the bulk GEMVs' one wait: with the record's call,
// ptxas gave the f16 batch-4 builds 66 registers instead of 64, one block per SM fewer). `line`:
// the caller's, for the record (which wait it was).
template <bool kRecord = true>
__device__ __forceinline__ void mbarrier_wait(uint64_t* bar, uint32_t parity, uint32_t line = __builtin_LINE()) {
  if (::cuda::ptx::mbarrier_try_wait_parity(bar, parity)) return;
  const uint64_t start = global_timer_ns();
  while (!::cuda::ptx::mbarrier_try_wait_parity(bar, parity)) {
    // (signed: a timer the driver steps back never traps)
    if (static_cast<int64_t>(global_timer_ns() - start) > static_cast<int64_t>(kMbarrierWatchdogNs)) {
      if constexpr (kRecord) {
        GQA_DEVICE_FAULT_AT(line, DeviceFaultCode::kMbarrierWatchdog, __cvta_generic_to_shared(bar), parity, 0);
      } else {
        (void)line;
        __trap();
      }
    }
  }
}

}  // namespace gqa::cuda
