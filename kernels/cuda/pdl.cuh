// Programmatic dependent launch (Hopper, griddepcontrol): a kernel launched with launch_pdl may be
// scheduled while the kernel before it on the stream is still finishing, so the launch gaps of a
// decode step's many small kernels overlap the tails of their predecessors. Correctness rests on
// one rule: a kernel launched through launch_pdl calls pdl_wait() before it loads or stores global
// memory (griddepcontrol.wait returns once every prerequisite grid has completed and its writes are
// visible), then lets its own successor launch early. Only L2 prefetches may come first (gemv.cu
// starts its weights that way): every SM's stores land in the L2, so a prefetch never leaves a
// stale copy of data a predecessor is still writing; and reads of a step's inputs that host copies
// wrote before the step's first kernel and no kernel writes (positions, block tables: the decode
// attention's K/V prefetch reads them to know what to prefetch), and of the model's weights
// (the bulk and ring GEMV builds copy their blocks' W rows before waiting: so no kernel may write
// a GEMV's W in the launch the GEMV overlaps, as none of a decode step does; gemv.h). On by default since the H200 run of
// 2026-11-26 (whole decode step 0.6-2.7% faster at 8K-128K batch 1, within 2% either way at
// batch 16); GQA_PDL=0 or set_pdl(false) turns it off (gqa-bench times decode steps both ways). Works in CUDA graphs
// (programmatic edges); recorded graphs keep the setting they were recorded with.
#pragma once

#include <cuda_runtime.h>

#include <utility>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/pdl.h"

namespace gqa::cuda {

// The first global-memory access of every kernel launched through launch_pdl (L2 prefetches aside).
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// pdl_wait, or with kEarly (pdl_early_enabled(), pdl.h) the trigger first: the successor may then
// launch while this kernel still waits for its predecessor. Still correct: the successor's own
// griddepcontrol.wait waits for this grid to complete, and this grid completes only after its
// wait, i.e. after its predecessor (so transitively for every earlier kernel); the successor may
// be scheduled only once every block of this grid has triggered, i.e. has started, so its waiting
// blocks never hold back a block of this one. Only for kernels with nothing to do before the wait.
template <bool kEarly>
__device__ __forceinline__ void pdl_wait_early() {
  if constexpr (kEarly) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
  } else {
    pdl_wait();
  }
}

// kernel<<<grid, block, smem, stream>>>(args...), with the programmatic-serialization attribute
// when PDL is on, in thread-block clusters of cluster_x blocks along x when cluster_x > 0. Checks
// the launch.
template <typename... Params, typename... Args>
void launch_pdl_cluster(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                        cudaStream_t stream, int cluster_x, Args&&... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[2];
  unsigned n = 0;
  if (pdl_enabled()) {
    attr[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[n].val.programmaticStreamSerializationAllowed = 1;
    ++n;
  }
  if (cluster_x > 0) {
    attr[n].id = cudaLaunchAttributeClusterDimension;
    attr[n].val.clusterDim.x = static_cast<unsigned>(cluster_x);
    attr[n].val.clusterDim.y = 1;
    attr[n].val.clusterDim.z = 1;
    ++n;
  }
  cfg.attrs = attr;
  cfg.numAttrs = n;
  const cudaError_t err = cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear it, so a later launch check does not report it again
    throw_cuda_error(err, name, __FILE__, __LINE__);
  }
  GQA_CUDA_LAUNCH_CHECK(name);
}

template <typename... Params, typename... Args>
void launch_pdl(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                Args&&... args) {
  launch_pdl_cluster(name, kernel, grid, block, smem, stream, 0, std::forward<Args>(args)...);
}

}  // namespace gqa::cuda
