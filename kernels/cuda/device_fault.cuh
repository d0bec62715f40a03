// The device side of device_fault.h: GQA_DEVICE_FAULT(code, detail0, detail1, limit) writes the
// record (the first failing thread of this kernel object: a claim word in device memory decides)
// and traps. Each kernel object (a .cu file: the library is built without relocatable device
// code) that includes this header has its own copy of the record's address, registered at static
// initialisation under its source file's name and set by install_device_fault_record().
//
// The record is pinned host memory mapped into the device: still readable by the host once the
// trap has cost the context. Its fields are written before `code`, with a system-scope fence
// between, so a host that sees a code sees the rest. They sit in a call that does not return, on
// the trap's path only: ptxas -v gave the decode attention, the TMA and producer prefill builds and
// the bulk GEMVs the same registers with it as with a bare trap (the __assert_fail call of
// device_require.cuh, which returns, cost registers).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/device_fault.h"
#include "kernels/cuda/global_timer.cuh"

namespace gqa::cuda {
namespace {  // one of each per kernel object

__device__ DeviceFaultRecord* g_device_fault_record = nullptr;
__device__ uint32_t g_device_fault_object = 0;
__device__ uint32_t g_device_fault_claimed = 0;

cudaError_t set_device_fault_record(DeviceFaultRecord* record, uint32_t object) {
  cudaError_t err = cudaMemcpyToSymbol(g_device_fault_record, &record, sizeof(record));
  if (err == cudaSuccess) err = cudaMemcpyToSymbol(g_device_fault_object, &object, sizeof(object));
  return err;
}

// (__BASE_FILE__: the .cu file being compiled, not this header)
[[maybe_unused]] const bool g_device_fault_registered = register_device_fault_object(__BASE_FILE__, set_device_fault_record);

// Writes the record (unless another thread of this object has) and traps. A call that does not
// return (PTX .noreturn): nothing of the caller's need stay alive across it. (Inlined, its loads of
// the record's address were hoisted out of the watchdogs' wait loops by ptxas and held for the
// whole kernel: the decode attention's kernels took 14-33 more registers.) A thread that lost the
// claim waits (at most 100 ms) for the winner's code to land before it traps: the winner may be in
// another warp, with its stores still ahead of it, and a trap may end the kernel first.
[[noreturn]] __device__ __noinline__ void device_fault_trap(uint32_t code, uint32_t line, long long detail0,
                                                           long long detail1, long long limit) {
  DeviceFaultRecord* r = g_device_fault_record;
  if (r != nullptr) {
    if (atomicCAS(&g_device_fault_claimed, 0u, 1u) == 0u) {
      r->object = g_device_fault_object;
      r->line = line;
      r->block[0] = blockIdx.x;
      r->block[1] = blockIdx.y;
      r->block[2] = blockIdx.z;
      r->thread[0] = threadIdx.x;
      r->thread[1] = threadIdx.y;
      r->thread[2] = threadIdx.z;
      r->detail[0] = detail0;
      r->detail[1] = detail1;
      r->limit = limit;
      __threadfence_system();
      *reinterpret_cast<volatile uint32_t*>(&r->code) = code;
      __threadfence_system();
    } else {
      const uint64_t start = global_timer_ns();
      while (*reinterpret_cast<volatile uint32_t*>(&r->code) == 0u &&
             global_timer_ns() - start < 100ull * 1000 * 1000) {
      }
    }
  }
  __trap();
}

}  // namespace
}  // namespace gqa::cuda

// (GQA_DEVICE_FAULT_AT: the line given, e.g. a helper's caller's, __builtin_LINE() as its default argument)
#define GQA_DEVICE_FAULT_AT(line, code, detail0, detail1, limit)                                                 \
  ::gqa::cuda::device_fault_trap(static_cast<uint32_t>(code), static_cast<uint32_t>(line),                       \
                                 static_cast<long long>(detail0), static_cast<long long>(detail1),               \
                                 static_cast<long long>(limit))
#define GQA_DEVICE_FAULT(code, detail0, detail1, limit) GQA_DEVICE_FAULT_AT(__LINE__, code, detail0, detail1, limit)
