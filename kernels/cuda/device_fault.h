// What a kernel that traps leaves for the host to say. A trap (a watchdog's, or a hot kernel's check
// on its step inputs) ends the kernel with a sticky error whose text, "unspecified launch failure",
// names neither the kernel nor the cause, and the context is lost with it: device memory can no
// longer be read. So before it traps, the first thread to fail writes a record into pinned host
// memory mapped into the device (kernels/cuda/device_fault.cuh: GQA_DEVICE_FAULT), and the host's
// error for the failed CUDA call (throw_cuda_error, cuda_check.cpp) ends with a sentence naming the
// cause, the kernel object, the block and the thread. A bare __trap() was the alternative where
// __assert_fail's call costs a hot kernel registers (device_require.cuh); the record's stores do not
// (launch/sass_check.py keeps the resource counts).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gqa::cuda {

enum class DeviceFaultCode : uint32_t {
  kNone = 0,
  kMbarrierWatchdog = 1,     // an mbarrier phase not complete after kMbarrierWatchdogNs (mbarrier_wait.cuh)
  kGridBarrierWatchdog = 2,  // a grid barrier's generation not moved after kMbarrierWatchdogNs
  kStepInputOutOfRange = 3,  // a position or cache slot outside what the kernel was given
};

// The record (host memory, written by the device; volatile reads on the host). detail: per code,
// kMbarrierWatchdog {shared-memory address of the barrier, parity waited for}, kGridBarrierWatchdog
// {generation waited on, blocks in the grid}, kStepInputOutOfRange {position, slot}; limit: the
// slots the cache has (kStepInputOutOfRange).
struct DeviceFaultRecord {
  uint32_t code;    // DeviceFaultCode; 0 while no kernel has reported
  uint32_t object;  // the reporting kernel object's number (device_fault_objects())
  uint32_t line;    // __LINE__ where GQA_DEVICE_FAULT was written
  uint32_t block[3];
  uint32_t thread[3];
  int64_t detail[2];
  int64_t limit;
};

// One kernel object's part (device_fault.cuh registers each at static initialisation): its source
// file and how to point its copy of the record's address at the record on the current device.
using DeviceFaultSetter = cudaError_t (*)(DeviceFaultRecord* record, uint32_t object);
bool register_device_fault_object(const char* source, DeviceFaultSetter setter);
// The registered objects' source files, in registration order (a record's `object` indexes it).
std::vector<std::string> device_fault_objects();

// Points every registered kernel object at the process's record on the current device (the record
// is allocated, mapped and zeroed at the first call; once per device after that). CudaOps calls it
// for its device; a kernel run on a device without it traps as before, with no record.
void install_device_fault_record();

// The sentence for a record ("" for code 0), e.g. "a kernel trapped: an mbarrier wait did not
// complete within 10 s (barrier at shared 0x400, parity 1) in kernels/cuda/attention_prefill_wgmma.cu,
// line 231 (of it or a header it includes), block (5, 0, 0), thread (256, 0, 0)". The line is the
// check's, or for a watchdog its wait's caller's (__builtin_LINE()), in the kernel object's .cu or
// a header it includes (the record keeps no file name).
std::string describe_device_fault(const DeviceFaultRecord& r);
// The process's record as the device left it ("" when none is installed or none reported).
std::string describe_device_fault();

}  // namespace gqa::cuda
