// What CUDA devices this process sees.
#pragma once

#include <cuda_runtime.h>

#include <string>

namespace gqa::cuda {

// Number of visible devices; 0 when there is no GPU or no driver (cudaErrorNoDevice,
// cudaErrorInsufficientDriver, cudaErrorStubLibrary). Throws gqa::Error for any other error of cudaGetDeviceCount, and
// instead of returning 0 where GQA_REQUIRE_GPU=1 (launch/gpu-check.sh sets it: a GPU machine whose
// driver or runtime is broken must fail its GPU tests, not skip them).
int device_count();
// Whether cudaGetDeviceCount's error `err` means this machine has no GPU (no device, no driver,
// the toolkit's stub libcuda): device_count's 0. Any other error is a broken setup: it throws.
bool means_no_gpu(cudaError_t err);
// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)"; throws gqa::Error for a bad index.
std::string device_description(int device);
// The current device's SM count and L2 size in bytes (queried once per device, then kept).
int current_sm_count();
int current_l2_bytes();
// The current device's shared memory per SM in bytes (queried once per device, then kept).
int current_smem_per_sm();
// The shared memory the current device reserves per block in bytes (queried once per device).
int current_reserved_smem_per_block();

}  // namespace gqa::cuda
