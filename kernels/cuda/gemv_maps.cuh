// The decode GEMVs' plain and SwiGLU epilogues as row maps (gemv_kernel.cuh's M: which W rows a
// row group reads and what it stores): gemv.cu's two GEMVs and the persistent MLP kernel
// (mlp_persistent.cu). Device code; included only by those .cu files.
#pragma once

#include "kernels/cuda/cuda_types.cuh"

namespace gqa::cuda::gemv_detail {

// y = x W^T: row group grp holds W rows grp * R .. grp * R + R - 1 = columns of y (rows past m
// read row m - 1, always mapped, and store nothing).
template <typename T>
struct PlainRows {
  T* y;
  int m;
  template <int R>
  static constexpr int outputs() { return R; }
  template <int R>
  __device__ __forceinline__ long long row(long long grp, int r) const {
    const long long col = grp * R + r;
    return col < m ? col : m - 1;
  }
  template <int R, class Sum>
  __device__ __forceinline__ void store(long long grp, int i, int o, const Sum& sum) const {
    const long long col = grp * R + o;
    if (col < m) y[static_cast<long long>(i) * m + col] = store_f32<T>(sum(o));
  }
};

// act = silu(gate) * up with W = [gate_proj; up_proj] (m = 2f rows): row group grp holds gate rows
// grp * R/2 .. + R/2 - 1 and the matching up rows f + ..., and stores R/2 columns of act.
template <typename T>
struct SwiGluRows {
  T* act;
  int f;
  template <int R>
  static constexpr int outputs() { return R / 2; }
  template <int R>
  __device__ __forceinline__ long long row(long long grp, int r) const {
    const long long col = grp * (R / 2) + r % (R / 2);
    return (col < f ? col : f - 1) + (r >= R / 2 ? f : 0);
  }
  template <int R, class Sum>
  __device__ __forceinline__ void store(long long grp, int i, int o, const Sum& sum) const {
    const long long col = grp * (R / 2) + o;
    if (col < f) {
      const float g = sum(o), u = sum(o + R / 2);
      act[static_cast<long long>(i) * f + col] = store_f32<T>(g / (1.0f + expf(-g)) * u);  // as swiglu.cu
    }
  }
};

}  // namespace gqa::cuda::gemv_detail
