// The one launch of the decode GEMVs' kernels (gemv.cu, gemv_rope.cu): which build serves a call
// (gemv_kernel.cuh's per-thread build, gemv_bulk.cuh's bulk build, gemv_ring.cuh's ring build) and
// with what grid.
// Included only by those .cu files.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <tuple>
#include <type_traits>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/dynamic_smem.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/gemv_bulk.cuh"
#include "kernels/cuda/gemv_kernel.cuh"
#include "kernels/cuda/gemv_ring.cuh"
#include "kernels/cuda/gemv_ring_plan.h"
#include "kernels/cuda/pdl.cuh"

namespace gqa::cuda::gemv_detail {

// The ring build's blocks per SM for a kernel and dynamic shared memory (the occupancy API, asked
// once per kernel, device and size), and what a block of it holds besides its dynamic shared
// memory (its static arrays and the device's per-block reserve).
template <typename Kernel>
int ring_blocks_per_sm(Kernel* kernel, size_t smem) {
  // (keyed by the kernel too: kernels of other N or norm builds share this function's type)
  static std::mutex mu;
  static std::map<std::tuple<const void*, int, size_t>, int> known;
  int device = 0;
  GQA_CUDA_CHECK(cudaGetDevice(&device));
  const std::tuple<const void*, int, size_t> key(reinterpret_cast<const void*>(kernel), device, smem);
  std::lock_guard<std::mutex> lock(mu);
  const auto it = known.find(key);
  if (it != known.end()) return it->second;
  int per_sm = 0;
  GQA_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, smem));
  known[key] = per_sm;
  return per_sm;
}
template <typename Kernel>
size_t ring_static_bytes(Kernel* kernel) {
  cudaFuncAttributes a{};
  GQA_CUDA_CHECK(cudaFuncGetAttributes(&a, kernel));
  return a.sharedSizeBytes + static_cast<size_t>(current_reserved_smem_per_block());
}

// Host side. G: split each row's chunks over more warps while every thread keeps at least two full steps;
// then, while the grid is small (few rows), split further down to one full step per thread.
inline int group_warps_for(int64_t kc, int64_t m, int rows, int loads = kLoadsPerStep) {
  const int64_t per_step = int64_t{32} * (loads / rows);  // chunks one warp covers per step
  auto blocks = [&](int g) { return (m + int64_t{kWarps / g} * rows - 1) / (int64_t{kWarps / g} * rows); };
  int g = 1;
  while (g < kWarps && kc >= 2 * (2 * g) * per_step) g *= 2;
  while (g < kWarps && blocks(g) < kMinBlocks && kc >= (2 * g) * per_step) g *= 2;
  return g;
}

// Launches the ring build where asked for (GemvTuning::ring or gemv_ring_enabled(), with or
// without the norm prologue) and it serves, else gemv_bulk_kernel (the default where it serves;
// not with the norm prologue) or gemv_kernel, over the m rows of W (m = 2f for SwiGluRows) of k
// columns with the plan above, or as gemv_tuning() (benchmarks) forces: the build, the warps per
// row group and, at n <= 2, the deep step (not built with the norm prologue). The one launch of
// gemv.cu's and gemv_rope.cu's kernels. kNorm: the rows of x are norm's (N <= kGemvNormMaxRows,
// N * k * sizeof(T) <= kGemvNormMaxBytes).
template <typename T, int N, class M, bool kNorm = false>
void launch_gemv(const char* name, const T* x, const T* w, const M& map, int m, int k, cudaStream_t stream,
                 const NormIn<T>& norm = NormIn<T>{}) {
  static_assert(!kNorm || N <= kGemvNormMaxRows, "launch_gemv: the norm prologue serves few rows");
  constexpr int R = Tile<N>::rows;
  const GemvTuning tune = gemv_tuning();
  const int64_t groups = (m + R - 1) / R;
  const BulkUnit u = bulk_unit(k, R, sizeof(T), groups);  // the bulk and ring builds' unit (~32 KB of W)
  if (tune.ring || (gemv_ring_enabled() && !tune.forces_per_thread() && !tune.bulk)) {
    const size_t norm_bytes = kNorm ? static_cast<size_t>(N) * k * sizeof(T) : 0;
    const auto kernel = gemv_ring_kernel<T, N, M, kNorm>;
    static const size_t static_bytes = ring_static_bytes(kernel);  // (the same on every sm_90 device)
    const GemvRingPlan plan =
        gemv_ring_plan(u.bytes, norm_bytes, static_cast<size_t>(current_smem_per_sm()), static_bytes);
    if (plan.ok) allow_dynamic_smem(kernel, kGemvRingMaxBytes);  // (before the occupancy question)
    const int per_sm = plan.ok ? ring_blocks_per_sm(kernel, plan.smem) : 0;
    if (per_sm >= 1) {  // (else, as where the plan does not serve: the bulk or per-thread build)
      const int blocks = static_cast<int>(std::min<int64_t>(u.units, int64_t{per_sm} * current_sm_count()));
      launch_pdl(name, kernel, dim3(blocks), dim3(kThreads), plan.smem, stream, x, w, map, k, u.group_warps,
                 static_cast<int>(u.units), plan.stages, norm);
      return;
    }
  }
  if (!kNorm && (tune.bulk || (gemv_bulk_enabled() && !tune.forces_per_thread())) && bulk_serves(k, R, sizeof(T))) {
    const auto kernel = gemv_bulk_kernel<T, N, M>;
    allow_dynamic_smem(kernel, kGemvBulkMaxBytes);
    launch_pdl(name, kernel, dim3(static_cast<unsigned int>(u.units)), dim3(kThreads), u.bytes, stream, x, w, map, k,
               u.group_warps);
    return;
  }
  const bool deep = !kNorm && N <= 2 && tune.deep;
  const int g = tune.group_warps > 0 ? tune.group_warps
                : kNorm              ? norm_group_warps(m, R)
                                     : group_warps_for(k / 8, m, R, deep ? Tile<N, true>::loads : Tile<N>::loads);
  const unsigned int blocks = static_cast<unsigned int>((groups + kWarps / g - 1) / (kWarps / g));
  const size_t smem = kNorm ? static_cast<size_t>(N) * k * sizeof(T) : 0;
  // The build: the deep step or the unbudgeted kernel where tuned (n <= 2, not with the norm), else
  // the default (with the norm prologue where kNorm).
  const auto kernel = [&] {
    if constexpr (N <= 2 && !kNorm) {
      if (deep) return gemv_kernel_for<T, N, M, true, false>();
      if (tune.no_budget) return gemv_kernel_for<T, N, M, false, false, false>();
    }
    return gemv_kernel_for<T, N, M, false, kNorm>();
  }();
  if constexpr (kNorm) allow_dynamic_smem(kernel, kGemvNormMaxBytes);
  launch_pdl(name, kernel, dim3(blocks), dim3(kThreads), smem, stream, x, w, map, k, g, norm);
}

// Calls f(std::integral_constant<int, N>{}) for N = n, the rows of x (1 .. kGemvMaxRows): the one
// place a runtime row count picks the kernels' compile-time N. Throws gqa::Error naming `op` past it.
template <class F>
void with_rows(int64_t n, const char* op, const F& f) {
  static_assert(kGemvMaxRows == 8, "with_rows: one case per n");
  switch (n) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 3: return f(std::integral_constant<int, 3>{});
    case 4: return f(std::integral_constant<int, 4>{});
    case 5: return f(std::integral_constant<int, 5>{});
    case 6: return f(std::integral_constant<int, 6>{});
    case 7: return f(std::integral_constant<int, 7>{});
    case 8: return f(std::integral_constant<int, 8>{});
    default: GQA_FAIL(op << ": " << n << " rows of x, at most " << kGemvMaxRows);
  }
}

}  // namespace gqa::cuda::gemv_detail
