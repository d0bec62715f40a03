// The TMA build's one-tile diagnostic (attention_prefill_wgmma_tma_probe.h): the kernel and its
// launch, on the TMA build's own load code (attention_prefill_wgmma_tma.cuh, through
// attention_prefill_wgmma_kernels.cuh, whose cp.async arrival and parameters it also uses).
#include "kernels/cuda/attention_prefill_wgmma_tma_probe.h"

#include <climits>

#include "kernels/cuda/attention_prefill_wgmma.h"
#include "kernels/cuda/attention_prefill_wgmma_kernels.cuh"
#include "kernels/cuda/device_memory.h"

namespace gqa::cuda {
namespace {

// One block of 128 threads (the producer warpgroup's count): K and V by TMA into tiles 0-1, by the
// swizzle build's cp.async copies into tiles 2-3 (each pair on its own mbarrier, as the kernel's
// full[] counts them), then all four tiles and both bad keys to `out` / `bad`.
template <typename T, int HD>
__global__ void __launch_bounds__(kProducerThreads, 1)
    tma_tile_probe_kernel(const __grid_constant__ TmaPrefillParams tp, int seq, int start, int g, unsigned char* out,
                          int* bad) {
  using S = WgSmem<T, HD>;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  __shared__ __align__(8) uint64_t bars[2];
  __shared__ int bad_key[2];
  unsigned char* tiles = wg::aligned_1024(smem_raw);  // (the swizzle's atoms are 1024-byte aligned)
  const int tid = static_cast<int>(threadIdx.x);
  if (tid == 0) {
    ::cuda::ptx::mbarrier_init(&bars[0], kProducerThreads);
    ::cuda::ptx::mbarrier_init(&bars[1], kProducerThreads);
    ::cuda::ptx::fence_mbarrier_init(::cuda::ptx::sem_release, ::cuda::ptx::scope_cluster);
    bad_key[0] = bad_key[1] = INT_MAX;
  }
  // The tiles 0xff first (NaN bytes): a box or copy that writes nothing cannot pass for zeros.
  for (size_t i = size_t(tid); i < 4 * S::kTileBytes / 16; i += kProducerThreads) {
    reinterpret_cast<uint4*>(tiles)[i] = make_uint4(~0u, ~0u, ~0u, ~0u);
  }
  wg::fence_proxy_async();  // (these generic stores before the TMA unit's writes)
  __syncthreads();
  const PrefillParams& p = tp.p;
  const int32_t* table = p.block_tables + size_t(seq) * p.max_blocks;
  tma_kv_tile<T, HD>(p, tp.tma, table, g, start, tiles, tiles + S::kTileBytes, &bars[0], &bad_key[0], tid);
  copy_kv_tile<T, HD, SwizzleTileCopy<HD, kBlockN, kProducerThreads>>(
      p, table, g, start, start + kBlockN, tiles + 2 * S::kTileBytes, tiles + 3 * S::kTileBytes, &bad_key[1], tid);
  cp_async_arrive(&bars[1]);
  cp_async_commit();
  mbarrier_wait(&bars[0], 0);
  mbarrier_wait(&bars[1], 0);
  cp_async_wait<0>();
  __syncthreads();
  for (size_t i = size_t(tid); i < 4 * S::kTileBytes / 16; i += kProducerThreads) {
    reinterpret_cast<uint4*>(out)[i] = reinterpret_cast<const uint4*>(tiles)[i];
  }
  if (tid == 0) {
    bad[0] = bad_key[0];
    bad[1] = bad_key[1];
  }
}

template <typename T, int HD>
PrefillTmaTiles probe(const PrefillParams& p, int seq, int start, int g) {
  using S = WgSmem<T, HD>;
  const TmaPrefillParams tp = tma_prefill_params<T, HD>(p);
  GQA_CHECK(tp.tma.box_rows > 0, kOp << ": the TMA build copies every tile of this call by cp.async (block size "
                                     << p.block_size << ": no whole boxes, or the cache cannot be described): "
                                        "nothing to probe");
  Tensor out = device_alloc(DType::kI32, {int64_t(4 * S::kTileBytes / 4)}), bad = device_alloc(DType::kI32, {2});
  constexpr size_t smem = 4 * S::kTileBytes + 1024;
  allow_dynamic_smem(tma_tile_probe_kernel<T, HD>, smem);
  tma_tile_probe_kernel<T, HD><<<1, kProducerThreads, smem>>>(tp, seq, start, g, static_cast<unsigned char*>(out.data()),
                                                              bad.data_as<int>());
  GQA_CUDA_LAUNCH_CHECK("prefill TMA tile probe");
  std::vector<unsigned char> host(4 * S::kTileBytes);
  int bad_host[2] = {0, 0};
  copy_to_host(out, host.data());
  copy_to_host(bad, bad_host);
  PrefillTmaTiles r;
  r.box_rows = tp.tma.box_rows;
  const auto tile = [&](int i) {
    return std::vector<unsigned char>(host.begin() + i * S::kTileBytes, host.begin() + (i + 1) * S::kTileBytes);
  };
  r.k_tma = tile(0);
  r.v_tma = tile(1);
  r.k_copied = tile(2);
  r.v_copied = tile(3);
  r.bad_key_tma = bad_host[0];
  r.bad_key_copied = bad_host[1];
  return r;
}

}  // namespace

PrefillTmaTiles probe_prefill_tma_tiles(const AttentionArgs& a, int seq, int start, int g) {
  const AttentionDims d = check_attention_args(a, kOp);
  GQA_CHECK(prefill_wgmma_supported(a), kOp << ": no kernel for " << dtype_name(a.q.dtype()) << " q "
                                            << shape_str(a.q.shape()) << " (bf16/f16, head_dim 64 or 128)");
  GQA_CHECK(seq >= 0 && seq < d.n_seqs && g >= 0 && g < d.hkv && start >= 0 && start % kBlockN == 0 &&
                int64_t(start) + kBlockN <= d.max_blocks * d.block_size,
            kOp << ": TMA probe of sequence " << seq << ", KV head " << g << ", keys from " << start
                << " outside the call");
  GQA_CHECK(prefill_wgmma_available(), kOp << ": needs a compute capability 9.0 GPU (H100, H200)");
  const PrefillParams p = prefill_params(a, d);
  const bool bf16 = a.q.dtype() == DType::kBF16;
  if (d.hd == 64) return bf16 ? probe<__nv_bfloat16, 64>(p, seq, start, g) : probe<__half, 64>(p, seq, start, g);
  return bf16 ? probe<__nv_bfloat16, 128>(p, seq, start, g) : probe<__half, 128>(p, seq, start, g);
}

}  // namespace gqa::cuda
