#include "runtime/backend.h"

#include <iostream>

#include "core/error.h"
#include "kernels/cpu/cpu_ops.h"
#ifdef GQA_HAVE_CUDA
#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/attention_prefill_wgmma.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/gemv_mma.h"
#include "kernels/cuda/gemv_rope.h"
#include "kernels/cuda/l2_prefetch.h"
#include "kernels/cuda/pdl.h"
#endif

namespace gqa {

bool cuda_backend_built() {
#ifdef GQA_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#ifdef GQA_HAVE_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

int cuda_device_for_local_rank(int local_rank) {
  const int count = cuda_device_count();
  GQA_CHECK(count > 0, "--backend cuda: no CUDA device is visible on this machine");
  GQA_CHECK(local_rank >= 0, "negative local rank " << local_rank);
  return local_rank % count;
}

std::string resolve_backend_name(const std::string& name) {
  if (name != "auto") return name;
  try {
    return cuda_device_count() > 0 ? "cuda" : "cpu";
  } catch (const std::exception& e) {
    // A CUDA setup that cannot count its devices (a broken driver) has no usable GPU: auto takes the
    // CPU and says why, unless GQA_REQUIRE_GPU asks for a GPU (then the error stands).
#ifdef GQA_HAVE_CUDA
    if (cuda::env_switch("GQA_REQUIRE_GPU", false)) throw;
#endif
    std::cerr << "gqa: warning: --backend auto: no usable GPU (" << e.what() << "); running on the CPU\n";
    return "cpu";
  }
}

std::unique_ptr<Ops> make_backend(const std::string& requested, int local_rank, DType cuda_dtype) {
  const std::string name = resolve_backend_name(requested);
  if (name == "cpu") return std::make_unique<cpu::CpuOps>();
  if (name == "cuda") {
    GQA_CHECK(cuda_backend_built(), "--backend cuda: this build has no CUDA backend (configure with nvcc present)");
    GQA_CHECK(cuda_device_count() > 0, "--backend cuda: no CUDA device is visible on this machine");
#ifdef GQA_HAVE_CUDA
    return std::make_unique<cuda::CudaOps>(cuda_device_for_local_rank(local_rank), cuda_dtype);
#else
    (void)local_rank;
    (void)cuda_dtype;
#endif
  }
  GQA_FAIL("unknown backend '" << requested << "' (expected cpu, cuda or auto)");
}

std::string cuda_kernel_switches() {
#ifdef GQA_HAVE_CUDA
  std::string on;
  const auto add = [&](bool enabled, const char* name) {
    if (enabled) on += (on.empty() ? "" : ", ") + std::string(name);
  };
  add(cuda::gemv_mma_enabled(), "tensor-core GEMV (9-16 rows)");
  add(cuda::decode_cluster_enabled(), "decode attention cluster reduction");
  add(cuda::l2_prefetch_enabled(), "L2 prefetch during decode attention");
  add(cuda::decode_fused_merge_enabled(), "decode attention split merge in its last block");
  add(cuda::fused_norm_enabled(), "add + RMSNorm in the QKV and gate/up GEMVs");
  add(cuda::gemv_ring_enabled(), "decode GEMVs through a ring of bulk-copy stages");
  add(cuda::prefill_wgmma_rotate() && cuda::prefill_wgmma_build_rotates(cuda::prefill_wgmma_build()),
      "wgmma prefill K/V tiles in rotated order");
  const std::string prefill =
      !cuda::prefill_wgmma_enabled()
          ? "mma.sync"
          : std::string("wgmma ") + cuda::prefill_wgmma_build_name(cuda::prefill_wgmma_build()) +
                " build (H100/H200; else mma.sync)";
  return std::string("PDL ") +
         (!cuda::pdl_enabled() ? "off" : cuda::pdl_early_enabled() ? "on (early trigger)" : "on (trigger after the wait)") +
         ", prefill attention " + prefill +
         ", decode GEMVs " + (cuda::gemv_bulk_enabled() ? "bulk copies" : "per-thread loads") +
         ", decode attention loader " +
         (!cuda::decode_bulk_enabled()             ? "cp.async"
          : cuda::decode_group_copies_enabled()    ? "bulk, grouped"
                                                   : "bulk") +
         ", decode attention K/V prefetch before its wait " + (cuda::decode_kv_prefetch_enabled() ? "on" : "off") +
         ", decode attention split merge " +
         (cuda::decode_one_wave_fused_by_default() ? "in the last block at one block per SM where it serves"
          : cuda::decode_fused_merge_enabled() || cuda::decode_cluster_enabled()
              ? "as the opt-in below asks"
              : "by the merge kernel") +
         ", fused QKV+RoPE GEMV " +
         (cuda::fused_rope_enabled() ? "on" : "off") + ", fused gate/up+SwiGLU GEMV " +
         (cuda::fused_swiglu_enabled() ? "on" : "off") + ", opt-in kernels: " + (on.empty() ? "none" : on);
#else
  return "";
#endif
}

}  // namespace gqa
