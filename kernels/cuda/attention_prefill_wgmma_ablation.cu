// The wgmma prefill's ablated producer builds (attention_prefill_wgmma_ablation.h), a timing aid:
// the producer kernel of attention_prefill_wgmma_kernels.cuh instantiated with parts compiled out.
#include "kernels/cuda/attention_prefill_wgmma_ablation.h"

#include <iterator>
#include <string>
#include <type_traits>
#include <utility>

#include "kernels/cuda/attention_prefill_wgmma.h"
#include "kernels/cuda/attention_prefill_wgmma_kernels.cuh"

namespace gqa::cuda {
namespace {

// The ablated producer builds exist for bf16 and head_dim 128 only (attention_prefill_wgmma_ablated
// checks that before launching).
template <unsigned kSkip>
struct LaunchAblated {
  template <typename T, int HD>
  struct Launch {
    static void run(const PrefillParams& p, cudaStream_t stream) {
      if constexpr (std::is_same_v<T, __nv_bfloat16> && HD == 128) {
        run_producer_kernel<T, HD, false, kSkip>(p, stream, "an ablated producer build",
                                                 "attention prefill_wgmma_pingpong_kernel (producer warpgroup, ablated)");
      } else {
        GQA_CHECK(false, kOp << ": the ablated builds are bf16 with head_dim 128");
      }
    }
  };
};

// Runs the ablated build of mask kMask when skip is kMask, else tries the next: true when one ran.
template <unsigned kMask, unsigned... kRest>
bool launch_ablated(unsigned skip, const AttentionArgs& a, const AttentionDims& d, cudaStream_t stream) {
  if (skip == kMask) {
    launch_prefill<LaunchAblated<kMask>::template Launch>(a, d, stream);
    return true;
  }
  if constexpr (sizeof...(kRest) > 0) {
    return launch_ablated<kRest...>(skip, a, d, stream);
  } else {
    return false;
  }
}

// launch_ablated over every mask of kPrefillAblations.
template <size_t... kI>
bool launch_any_ablated(unsigned skip, const AttentionArgs& a, const AttentionDims& d, cudaStream_t stream,
                        std::index_sequence<kI...>) {
  return launch_ablated<kPrefillAblations[kI]...>(skip, a, d, stream);
}

}  // namespace

std::string prefill_ablation_name(unsigned skip) {
  if (skip == 0) return "full";
  static constexpr struct {
    unsigned bit;
    const char* name;
  } kParts[] = {{kAblateCopies, "no copies"},
                {kAblateSoftmax, "no softmax"},
                {kAblateQk, "no QK"},
                {kAblatePv, "no PV"},
                {kAblateTurns, "no turns"},
                {kRotateTiles, "rotated tiles"}};
  std::string out;
  for (const auto& part : kParts) {
    if (skip & part.bit) out += (out.empty() ? "" : " + ") + std::string(part.name);
  }
  return out;
}

void attention_prefill_wgmma_ablated(const AttentionArgs& a, unsigned skip, cudaStream_t stream) {
  const AttentionDims d = check_attention_args(a, kOp);
  GQA_CHECK(a.q.dtype() == DType::kBF16 && d.hd == 128,
            kOp << ": the ablated builds are bf16 with head_dim 128, not " << dtype_name(a.q.dtype()) << " q "
                << shape_str(a.q.shape()));
  if (d.n == 0) return;
  GQA_CHECK(prefill_wgmma_available(), kOp << ": needs a compute capability 9.0 GPU (H100, H200): its kernels are "
                                              "sm_90a code");
  if (skip == 0) return launch_prefill<LaunchAblated<0>::template Launch>(a, d, stream);  // (the producer build)
  const bool ran = launch_any_ablated(skip, a, d, stream, std::make_index_sequence<std::size(kPrefillAblations)>{});
  GQA_CHECK(ran, kOp << ": no ablated build for mask " << skip << " (kPrefillAblations lists them)");
}

}  // namespace gqa::cuda
