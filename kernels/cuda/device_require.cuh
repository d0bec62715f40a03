// A device-side check that names itself, kept in release builds (assert() is compiled out under
// NDEBUG). Where `ok` is false the thread calls the device's __assert_fail: the CUDA runtime prints
// "FILE:LINE: FUNCTION: block: [...], thread: [...] Assertion `WHAT` failed." on the process's
// stderr, the kernel ends, and the host's next checked call fails with cudaErrorAssert
// ("device-side assert triggered"), so the message names the check, its file and line, where a bare
// __trap() left only "unspecified launch failure". The context is lost either way (as with any
// device fault): the process must end, which every gqa program does on a CUDA error.
// `what` must be a string literal. Used by the small RoPE and KV-write kernels and wgmma.cuh's stub
// for builds without sm_90a only (never in a hot kernel's hot path): ptxas keeps
// values live across the (cold) call in registers the call may not clobber, so in the wgmma prefill
// it cost local memory and the softmax's overlap, and registers in the GEMVs (launch/sass_check.py,
// cuobjdump -res-usage; twenty-sixth session): the mbarrier watchdogs and the fused GEMV's checks
// write the device fault record and trap instead (device_fault.cuh: a call that does not return,
// so ptxas keeps nothing alive across it; the bulk GEMVs' one wait keeps a bare __trap()).
#pragma once

#include <cassert>

// glibc declares __assert_fail (which nvcc maps to the device's assert handler) only without
// NDEBUG, and release builds define it.
#if defined(NDEBUG)
extern "C" __host__ __device__ void __assert_fail(const char* assertion, const char* file, unsigned int line,
                                                  const char* function) noexcept;
#endif

#define GQA_DEVICE_REQUIRE(ok, what)                      \
  do {                                                    \
    if (!(ok)) {                                          \
      __assert_fail(what, __FILE__, __LINE__, __func__); \
      __trap(); /* (never reached) */                     \
    }                                                     \
  } while (0)
