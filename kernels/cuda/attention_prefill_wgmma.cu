// Causal flash prefill on Hopper warpgroup MMA (see attention_prefill_wgmma.h): the builds'
// launches, their switches, the device probe and the dispatcher. The kernels and their design:
// attention_prefill_wgmma_kernels.cuh.
#include "kernels/cuda/attention_prefill_wgmma.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <type_traits>

#include "kernels/cuda/attention_prefill_wgmma_kernels.cuh"
#include "kernels/cuda/attention_prefill_wgmma_persistent.cuh"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/per_device.h"

namespace gqa::cuda {
namespace {

// 1 where the device runs sm_90a code of this build (wgmma compiled in), else 0.
__global__ void probe_kernel(int* out) { *out = wg::kCompiled ? 1 : 0; }

template <typename T, int HD>
struct Launch {
  static void run(const PrefillParams& p, cudaStream_t stream) {
    run_prefill_kernel(prefill_wgmma_kernel<T, HD>, WgSmem<T, HD>::kBytes, kBlockM, kThreads, p, stream, kOp,
                       "attention prefill_wgmma_kernel");
  }
};

template <typename T, int HD>
struct LaunchPingPong {
  static void run(const PrefillParams& p, cudaStream_t stream) {
    run_prefill_kernel(prefill_wgmma_pingpong_kernel<T, HD, false>, WgSmem<T, HD>::kPingPongBytes, kBlockM, kThreads,
                       p, stream, kOp, "attention prefill_wgmma_pingpong_kernel");
  }
};

std::atomic<int64_t> fallbacks{0};  // prefill_wgmma_fallbacks()

// A producer build as the dispatcher runs it (launch(), its kernel having `regs` registers per
// thread): where ptxas gave that kernel fewer registers than its setmaxnreg split needs (another
// toolkit), the ping-pong build (no split) instead, counted and said once on stderr; prefill then
// still runs on the tensor cores rather than failing.
template <typename T, int HD, typename Launch>
void run_split_or_pingpong(int regs, const PrefillParams& p, cudaStream_t stream, const char* build, Launch&& launch) {
  if (register_split_holds(regs)) return launch();
  fallbacks.fetch_add(1);
  static std::once_flag said;
  std::call_once(said, [&] {
    std::fprintf(stderr,
                 "gqa: %s: %s was built with %d registers per thread, its setmaxnreg split needs 168: the "
                 "ping-pong build runs instead\n",
                 kOp, build, regs);
  });
  LaunchPingPong<T, HD>::run(p, stream);
}

template <typename T, int HD, bool kOverlap, unsigned kSkip, bool kSwizzle>
void run_producer_or_pingpong(const PrefillParams& p, cudaStream_t stream, const char* build, const char* name) {
  run_split_or_pingpong<T, HD>(producer_registers<T, HD, kOverlap, kSkip, kSwizzle>(), p, stream, build,
                               [&] { run_producer_kernel<T, HD, kOverlap, kSkip, kSwizzle>(p, stream, build, name); });
}

// f(std::integral_constant<unsigned, kSkip>{}): the tile order's mask, kRotateTiles where
// prefill_wgmma_rotate(), else 0 (the producer, swizzle and TMA builds).
template <typename F>
void in_tile_order(F&& f) {
  if (prefill_wgmma_rotate()) {
    f(std::integral_constant<unsigned, kRotateTiles>{});
  } else {
    f(std::integral_constant<unsigned, 0>{});
  }
}

template <typename T, int HD>
struct LaunchOverlap {
  static void run(const PrefillParams& p, cudaStream_t stream) {
    run_producer_or_pingpong<T, HD, true, 0, false>(
        p, stream, "the overlap build", "attention prefill_wgmma_pingpong_kernel (producer warpgroup, overlap)");
  }
};

// The producer build (kSwizzle false) or the swizzle build, its tiles in in_tile_order's order.
template <bool kSwizzle>
struct ProducerBuild {
  template <typename T, int HD>
  struct Launch {
    static void run(const PrefillParams& p, cudaStream_t stream) {
      in_tile_order([&](auto skip) {
        run_producer_or_pingpong<T, HD, false, decltype(skip)::value, kSwizzle>(
            p, stream, kSwizzle ? "the swizzle build" : "the producer build",
            kSwizzle ? "attention prefill_wgmma_pingpong_kernel (producer warpgroup, swizzled)"
                     : "attention prefill_wgmma_pingpong_kernel (producer warpgroup)");
      });
    }
  };
};

// The TMA build, or its late-turn (kLateTurns) or overlap (kOverlapPv) variant
// (prefill_wgmma_build_variant); all but the overlap variant with their tiles in in_tile_order's order.
template <PrefillWgmmaBuild kBuildOf>
struct TmaBuild {
  static constexpr unsigned kVariant = prefill_wgmma_build_variant(kBuildOf);
  template <typename T, int HD, unsigned kSkip>
  static void run_masked(const PrefillParams& p, cudaStream_t stream) {
    constexpr const char* kBuild = kVariant == kLateTurns   ? "the TMA build with late turns"
                                   : kVariant == kOverlapPv ? "the TMA build with the overlap"
                                                            : "the TMA build";
    constexpr const char* kName = kVariant == kLateTurns ? "attention prefill_wgmma_tma_kernel (TMA, late turns)"
                                  : kVariant == kOverlapPv
                                      ? "attention prefill_wgmma_tma_kernel (TMA, softmax under the previous P V)"
                                      : "attention prefill_wgmma_tma_kernel (producer warpgroup, TMA)";
    run_split_or_pingpong<T, HD>(tma_registers<T, HD, kSkip>(), p, stream, kBuild,
                                 [&] { run_tma_kernel<T, HD, kSkip>(p, stream, kName); });
  }
  template <typename T, int HD>
  struct Launch {
    static void run(const PrefillParams& p, cudaStream_t stream) {
      if constexpr (!prefill_wgmma_build_rotates(kBuildOf)) {
        run_masked<T, HD, kVariant>(p, stream);
      } else {
        in_tile_order([&](auto skip) { run_masked<T, HD, decltype(skip)::value | kVariant>(p, stream); });
      }
    }
  };
};

std::atomic<int> persistent_grid_cap{0};  // set_prefill_wgmma_persistent_grid_cap

// The persistent build (attention_prefill_wgmma_persistent.cuh): min(items, SMs) blocks.
template <typename T, int HD>
struct LaunchPersistent {
  static void run(const PrefillParams& p, cudaStream_t stream) {
    run_split_or_pingpong<T, HD>(kernel_registers<kPersistentKernel<T, HD>>(), p, stream, "the persistent build", [&] {
      launch_tma_prefill<T, HD>(kPersistentKernel<T, HD>, PersistentSmem<T, HD>::kDynamicBytes,
                                prefill_persistent_grid(p, current_sm_count(), persistent_grid_cap.load()), p, stream,
                                "attention prefill_wgmma_persistent_kernel (TMA overlap, persistent)");
    });
  }
};

}  // namespace

GQA_PROCESS_SWITCH(prefill_wgmma_enabled, set_prefill_wgmma, "GQA_PREFILL_WGMMA", true)
GQA_PROCESS_SWITCH(prefill_wgmma_pingpong, set_prefill_wgmma_pingpong, "GQA_PREFILL_WGMMA_PINGPONG", false)
GQA_PROCESS_SWITCH(prefill_wgmma_producer, set_prefill_wgmma_producer, "GQA_PREFILL_WGMMA_PRODUCER", true)
GQA_PROCESS_SWITCH(prefill_wgmma_overlap, set_prefill_wgmma_overlap, "GQA_PREFILL_WGMMA_OVERLAP", false)
GQA_PROCESS_SWITCH(prefill_wgmma_swizzle, set_prefill_wgmma_swizzle, "GQA_PREFILL_WGMMA_SWIZZLE", true)
GQA_PROCESS_SWITCH(prefill_wgmma_tma, set_prefill_wgmma_tma, "GQA_PREFILL_WGMMA_TMA", true)
GQA_PROCESS_SWITCH(prefill_wgmma_rotate, set_prefill_wgmma_rotate, "GQA_PREFILL_WGMMA_ROTATE", false)
GQA_PROCESS_SWITCH(prefill_wgmma_late_turns, set_prefill_wgmma_late_turns, "GQA_PREFILL_WGMMA_LATE_TURNS", false)
GQA_PROCESS_SWITCH(prefill_wgmma_tma_overlap, set_prefill_wgmma_tma_overlap, "GQA_PREFILL_WGMMA_TMA_OVERLAP", true)
GQA_PROCESS_SWITCH(prefill_wgmma_persistent, set_prefill_wgmma_persistent, "GQA_PREFILL_WGMMA_PERSISTENT", false)
GQA_PROCESS_SWITCH(prefill_wgmma_lazy_rescale, set_prefill_wgmma_lazy_rescale, "GQA_PREFILL_WGMMA_LAZY_RESCALE", false)

PrefillWgmmaBuild prefill_wgmma_build() {
  // (the opt-in overlap build first: it is only ever switched on on purpose, and the TMA and
  // swizzle builds it would otherwise sit under are on by default)
  // (the TMA build's variants only under it: the opt-in late turns over the default overlap one)
  // (the persistent build over the TMA overlap build whose schedule it changes)
  const PrefillWgmmaBuild tma = prefill_wgmma_late_turns()    ? PrefillWgmmaBuild::kTmaLate
                                : prefill_wgmma_persistent()  ? PrefillWgmmaBuild::kTmaPersistent
                                : prefill_wgmma_tma_overlap() ? PrefillWgmmaBuild::kTmaOverlap
                                                              : PrefillWgmmaBuild::kTma;
  return prefill_wgmma_overlap()    ? PrefillWgmmaBuild::kOverlap
         : prefill_wgmma_tma()      ? tma
         : prefill_wgmma_swizzle()  ? PrefillWgmmaBuild::kSwizzle
         : prefill_wgmma_producer() ? PrefillWgmmaBuild::kProducer
         : prefill_wgmma_pingpong() ? PrefillWgmmaBuild::kPingPong
                                    : PrefillWgmmaBuild::kBasic;
}

const char* prefill_wgmma_build_name(PrefillWgmmaBuild b) {
  switch (b) {
    case PrefillWgmmaBuild::kBasic: return "basic";
    case PrefillWgmmaBuild::kPingPong: return "pingpong";
    case PrefillWgmmaBuild::kProducer: return "producer";
    case PrefillWgmmaBuild::kOverlap: return "overlap";
    case PrefillWgmmaBuild::kSwizzle: return "swizzle";
    case PrefillWgmmaBuild::kTma: return "tma";
    case PrefillWgmmaBuild::kTmaLate: return "tma_late";
    case PrefillWgmmaBuild::kTmaOverlap: return "tma_overlap";
    case PrefillWgmmaBuild::kTmaPersistent: return "tma_persistent";
  }
  return "?";
}

bool prefill_wgmma_available() {
  static PerDevice<bool> cached;
  return cached.get([](int device) {
    int major = 0, minor = 0;
    GQA_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    GQA_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
    if (major != 9 || minor != 0) return false;
    int* flag = nullptr;
    GQA_CUDA_CHECK(cudaMalloc(&flag, sizeof(int)));
    int host = 0;
    probe_kernel<<<1, 1>>>(flag);
    const cudaError_t launched = cudaGetLastError();
    const cudaError_t copied = launched == cudaSuccess ? cudaMemcpy(&host, flag, sizeof(int), cudaMemcpyDeviceToHost)
                                                       : launched;
    GQA_CUDA_CHECK(cudaFree(flag));
    if (copied != cudaSuccess) {
      cudaGetLastError();  // (clear it: reported here, not at the next launch check)
      const char* what = launched != cudaSuccess ? "the wgmma probe kernel's launch" : "cudaMemcpy (the probe's flag)";
      throw_cuda_error(copied, what, __FILE__, __LINE__);
    }
    return host == 1;
  });
}

int64_t prefill_wgmma_fallbacks() { return fallbacks.load(); }

void set_prefill_wgmma_persistent_grid_cap(int blocks) {
  GQA_CHECK(blocks >= 0, kOp << ": a persistent grid cap of " << blocks << " blocks (0: one an SM)");
  persistent_grid_cap.store(blocks);
}
int prefill_wgmma_persistent_grid_cap() { return persistent_grid_cap.load(); }

bool prefill_wgmma_supported(const AttentionArgs& a) { return tensor_core_prefill_shape(a); }

void attention_prefill_wgmma(const AttentionArgs& a, cudaStream_t stream) {
  const AttentionDims d = check_attention_args(a, kOp);
  GQA_CHECK(prefill_wgmma_supported(a), kOp << ": no kernel for " << dtype_name(a.q.dtype()) << " q "
                                            << shape_str(a.q.shape()) << " (bf16/f16, head_dim 64 or 128)");
  if (d.n == 0) return;
  GQA_CHECK(prefill_wgmma_available(), kOp << ": needs a compute capability 9.0 GPU (H100, H200): its kernels are "
                                              "sm_90a code");
  const float slack = prefill_wgmma_lazy_rescale() ? kLazyRescaleSlack : 0.0f;
  switch (prefill_wgmma_build()) {
    case PrefillWgmmaBuild::kTma:
      return launch_prefill<TmaBuild<PrefillWgmmaBuild::kTma>::Launch>(a, d, stream, slack);
    case PrefillWgmmaBuild::kTmaLate:
      return launch_prefill<TmaBuild<PrefillWgmmaBuild::kTmaLate>::Launch>(a, d, stream, slack);
    case PrefillWgmmaBuild::kTmaOverlap:
      return launch_prefill<TmaBuild<PrefillWgmmaBuild::kTmaOverlap>::Launch>(a, d, stream, slack);
    case PrefillWgmmaBuild::kTmaPersistent: return launch_prefill<LaunchPersistent>(a, d, stream, slack);
    case PrefillWgmmaBuild::kSwizzle: return launch_prefill<ProducerBuild<true>::Launch>(a, d, stream, slack);
    case PrefillWgmmaBuild::kOverlap: return launch_prefill<LaunchOverlap>(a, d, stream, slack);
    case PrefillWgmmaBuild::kProducer: return launch_prefill<ProducerBuild<false>::Launch>(a, d, stream, slack);
    case PrefillWgmmaBuild::kPingPong: return launch_prefill<LaunchPingPong>(a, d, stream, slack);
    case PrefillWgmmaBuild::kBasic: return launch_prefill<Launch>(a, d, stream, slack);
  }
}

}  // namespace gqa::cuda
