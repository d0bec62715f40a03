// Waiting on an mbarrier phase, with a watchdog: a wait that has not completed after ~2^32 clock
// cycles (about 2 s on an H100/H200, orders of magnitude past any legitimate wait, also under
// compute-sanitizer) traps, so a synchronisation bug fails the kernel (an error the host sees at
// its next check) instead of hanging the process and a whole time-boxed GPU check with it.
// Used by the kernels that hand work over through mbarriers (the decode attention's bulk-copy
// loader, the wgmma prefill's ping-pong build).
#pragma once

#include <cuda/ptx>

#include <cstdint>

namespace gqa::cuda {

constexpr long long kMbarrierWatchdogCycles = 1LL << 32;

// Returns once the phase with parity `parity` of the mbarrier at `bar` (shared memory) has completed.
__device__ __forceinline__ void mbarrier_wait(uint64_t* bar, uint32_t parity) {
  if (::cuda::ptx::mbarrier_try_wait_parity(bar, parity)) return;
  const long long start = clock64();
  while (!::cuda::ptx::mbarrier_try_wait_parity(bar, parity)) {
    if (clock64() - start > kMbarrierWatchdogCycles) __trap();
  }
}

}  // namespace gqa::cuda
