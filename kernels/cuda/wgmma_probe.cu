// One-tile wgmma checks (see wgmma_probe.h): one warpgroup, operands staged exactly as the wgmma
// prefill stages them, results written out in the accumulator layout of wgmma.cuh.
#include "kernels/cuda/wgmma_probe.h"

#include <cuda_bf16.h>

#include "core/error.h"
#include "kernels/cuda/attention_mma.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/prefill_tile_copy.h"
#include "kernels/cuda/wgmma.cuh"

namespace gqa::cuda {
namespace {

using T = __nv_bfloat16;
constexpr int kKeys = 128;

// Copies the row-major [rows][cols] matrix src into dst in the core-matrix layout.
__device__ void stage(const T* src, int rows, int cols, unsigned char* dst) {
  for (int c = threadIdx.x; c < rows * cols / 8; c += blockDim.x) {
    int r, col;
    wg::core_chunk(c, cols, r, col);
    *reinterpret_cast<uint4*>(dst + 16 * c) = *reinterpret_cast<const uint4*>(src + r * cols + col);
  }
  wg::fence_proxy_async();
}

// Writes this thread's part of a 64 x N accumulator to out (row-major).
template <int N>
__device__ void store(const float (&d)[N / 8][4], float* out) {
  const int warp = threadIdx.x / 32, gid = (threadIdx.x % 32) / 4, tig = threadIdx.x % 4;
  for (int nt = 0; nt < N / 8; ++nt) {
    for (int e = 0; e < 4; ++e) out[(16 * warp + gid + 8 * (e / 2)) * N + 8 * nt + 2 * tig + e % 2] = d[nt][e];
  }
}

// The same into the swizzle build's layout: a [tile_rows][cols] tile of swizzle128_byte (rows past
// `rows` untouched), dst 1024-byte aligned.
__device__ void stage_swizzled(const T* src, int rows, int cols, int tile_rows, unsigned char* dst) {
  for (int c = threadIdx.x; c < rows * cols / 8; c += blockDim.x) {
    const int r = c / (cols / 8), j = c % (cols / 8);
    *reinterpret_cast<uint4*>(dst + swizzle128_byte(r, j, tile_rows)) = *reinterpret_cast<const uint4*>(src + r * cols + 8 * j);
  }
  wg::fence_proxy_async();
}

// kSwizzle: a and b staged as the swizzle build stages q and K (each a 128-row tile; a fills its
// first 64 rows, as warpgroup 0's q rows), read through 128-byte-swizzle descriptors stepped as
// the swizzle build steps them (32 bytes per 16 columns within a 64-column half, halves 128 * 128
// bytes apart).
template <int HD, bool kSwizzle>
__global__ void __launch_bounds__(128) qk_kernel(const T* a, const T* b, float* s_out, uint32_t lbo, uint32_t sbo) {
  extern __shared__ __align__(128) unsigned char smem[];
  unsigned char* a_s = kSwizzle ? wg::aligned_1024(smem) : smem;
  unsigned char* b_s = a_s + (kSwizzle ? kKeys : 64) * HD * sizeof(T);
  if constexpr (kSwizzle) {
    stage_swizzled(a, 64, HD, kKeys, a_s);
    stage_swizzled(b, kKeys, HD, kKeys, b_s);
  } else {
    stage(a, 64, HD, a_s);
    stage(b, kKeys, HD, b_s);
  }
  __syncthreads();
  float s[kKeys / 8][4] = {};
  const uint64_t ad = kSwizzle ? wg::smem_desc_sw128(a_s, lbo, sbo) : wg::smem_desc(a_s, lbo, sbo);
  const uint64_t bd = kSwizzle ? wg::smem_desc_sw128(b_s, lbo, sbo) : wg::smem_desc(b_s, lbo, sbo);
  wg::fence_operands(s);
  wg::fence();
  for (int kk = 0; kk < HD / 16; ++kk) {
    // the next 16 columns in the prefill's layout
    const uint64_t step = kSwizzle ? uint64_t((kk / 4) * kKeys * 128 + (kk % 4) * 32) >> 4 : (2 * kk * 128u) >> 4;
    wg::mma_ss<T, kKeys>(s, ad + step, bd + step, kk > 0 ? 1 : 0);
  }
  wg::commit();
  wg::wait<0>();
  wg::fence_operands(s);
  store<kKeys>(s, s_out);
}

// kSwizzle: v staged as the swizzle build stages V, read N-major through a 128-byte-swizzle
// descriptor stepped 2048 bytes (16 keys) per k step.
template <int HD, bool kSwizzle>
__global__ void __launch_bounds__(128) pv_kernel(const float* p, const T* v, float* o_out, uint32_t lbo, uint32_t sbo) {
  extern __shared__ __align__(128) unsigned char smem_raw[];
  unsigned char* smem = kSwizzle ? wg::aligned_1024(smem_raw) : smem_raw;
  if constexpr (kSwizzle) {
    stage_swizzled(v, kKeys, HD, kKeys, smem);
  } else {
    stage(v, kKeys, HD, smem);
  }
  __syncthreads();
  // This lane's p values in the score layout (rows 16 warp + gid (+8), keys 8 nt + 2 tig (+1)).
  const int warp = threadIdx.x / 32, gid = (threadIdx.x % 32) / 4, tig = threadIdx.x % 4;
  float s[kKeys / 8][4];
  for (int nt = 0; nt < kKeys / 8; ++nt) {
    for (int e = 0; e < 4; ++e) s[nt][e] = p[(16 * warp + gid + 8 * (e / 2)) * kKeys + 8 * nt + 2 * tig + e % 2];
  }
  uint32_t pa[kKeys / 16][4];
  for (int kk = 0; kk < kKeys / 16; ++kk) attn::p_fragment<T, kKeys>(s, kk, pa[kk]);
  float o[HD / 8][4] = {};
  const uint64_t vd = kSwizzle ? wg::smem_desc_sw128(smem, lbo, sbo) : wg::smem_desc(smem, lbo, sbo);
  wg::fence_operands(o);
  wg::fence();
  for (int kk = 0; kk < kKeys / 16; ++kk) {
    // the next 16 keys in the prefill's layout
    const uint64_t step = kSwizzle ? uint64_t(kk * 2048) >> 4 : (2 * kk * HD * 16u) >> 4;
    wg::mma_rs_tb<T, HD>(o, pa[kk], vd + step);
  }
  wg::commit();
  wg::wait<0>();
  wg::fence_operands(o);
  store<HD>(o, o_out);
}

std::vector<T> to_bf16(const std::vector<float>& x) {
  std::vector<T> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = __float2bfloat16(x[i]);
  return out;
}

Tensor upload_bf16(const std::vector<float>& x) {
  const std::vector<T> host = to_bf16(x);
  Tensor t = device_alloc(DType::kBF16, {static_cast<int64_t>(x.size())});
  copy_to_device(host.data(), t);
  return t;
}

Tensor upload_f32(const std::vector<float>& x) {
  Tensor t = device_alloc(DType::kF32, {static_cast<int64_t>(x.size())});
  copy_to_device(x.data(), t);
  return t;
}

std::vector<float> download(const Tensor& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  copy_to_host(t, out.data());
  return out;
}

void check_hd(int hd, const char* what) {
  GQA_CHECK(hd == 64 || hd == 128, what << ": head_dim " << hd << " (64 or 128)");
}

// Dynamic shared memory for a probe: the staged tiles fill `used` bytes exactly with the prefill's
// strides, but the other strides a test tries after a mismatch make the descriptors reach up to
// ~60 KB past the start (by a host model of the addresses); with kProbeSmem every candidate reads
// inside the block's allocation (garbage past `used`, which only a mismatch can show) instead of
// faulting and poisoning the context for the tests after it.
constexpr size_t kProbeSmem = 96 * 1024;

template <typename Kernel>
size_t probe_smem(Kernel kernel, size_t used) {
  const size_t bytes = std::max(used, kProbeSmem);
  allow_dynamic_smem(kernel, bytes);
  return bytes;
}

}  // namespace

std::vector<float> wgmma_probe_qk(const std::vector<float>& a, const std::vector<float>& b, int hd, uint32_t lbo,
                                  uint32_t sbo, bool swizzle128) {
  check_hd(hd, "wgmma_probe_qk");
  GQA_CHECK(a.size() == size_t(64) * hd && b.size() == size_t(kKeys) * hd, "wgmma_probe_qk: a must be 64 x " << hd
                                                                               << ", b " << kKeys << " x " << hd);
  const Tensor da = upload_bf16(a), db = upload_bf16(b);
  Tensor ds = device_alloc(DType::kF32, {64 * kKeys});
  const size_t used = size_t(swizzle128 ? 2 * kKeys : 64 + kKeys) * hd * sizeof(T) + (swizzle128 ? 1024 : 0);
  const T* pa = da.data_as<T>();
  const T* pb = db.data_as<T>();
  float* ps = ds.data_as<float>();
  const auto launch = [&](auto kernel) { kernel<<<1, 128, probe_smem(kernel, used)>>>(pa, pb, ps, lbo, sbo); };
  if (hd == 64) {
    swizzle128 ? launch(qk_kernel<64, true>) : launch(qk_kernel<64, false>);
  } else {
    swizzle128 ? launch(qk_kernel<128, true>) : launch(qk_kernel<128, false>);
  }
  GQA_CUDA_LAUNCH_CHECK("wgmma_probe qk_kernel");
  GQA_CUDA_CHECK(cudaDeviceSynchronize());
  return download(ds);
}

std::vector<float> wgmma_probe_pv(const std::vector<float>& p, const std::vector<float>& v, int hd, uint32_t lbo,
                                  uint32_t sbo, bool swizzle128) {
  check_hd(hd, "wgmma_probe_pv");
  GQA_CHECK(p.size() == size_t(64) * kKeys && v.size() == size_t(kKeys) * hd,
            "wgmma_probe_pv: p must be 64 x " << kKeys << ", v " << kKeys << " x " << hd);
  const Tensor dp = upload_f32(p), dv = upload_bf16(v);
  Tensor d_o = device_alloc(DType::kF32, {64 * int64_t(hd)});
  const size_t used = size_t(kKeys) * hd * sizeof(T) + (swizzle128 ? 1024 : 0);
  const float* pp = dp.data_as<float>();
  const T* pv = dv.data_as<T>();
  float* po = d_o.data_as<float>();
  const auto launch = [&](auto kernel) { kernel<<<1, 128, probe_smem(kernel, used)>>>(pp, pv, po, lbo, sbo); };
  if (hd == 64) {
    swizzle128 ? launch(pv_kernel<64, true>) : launch(pv_kernel<64, false>);
  } else {
    swizzle128 ? launch(pv_kernel<128, true>) : launch(pv_kernel<128, false>);
  }
  GQA_CUDA_LAUNCH_CHECK("wgmma_probe pv_kernel");
  GQA_CUDA_CHECK(cudaDeviceSynchronize());
  return download(d_o);
}

}  // namespace gqa::cuda
