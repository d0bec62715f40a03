// The wgmma prefill's ablated producer and TMA builds (attention_prefill_wgmma_ablation.h), a timing
// aid: the producer and TMA kernels of attention_prefill_wgmma_kernels.cuh instantiated with parts
// compiled out, and the variants that are still the attention (rotated tiles, no turns; the TMA
// build's late turns, softmax under the previous P V, and that without turns).
#include "kernels/cuda/attention_prefill_wgmma_ablation.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <type_traits>
#include <utility>

#include "kernels/cuda/attention_prefill_wgmma.h"
#include "kernels/cuda/attention_prefill_wgmma_kernels.cuh"

namespace gqa::cuda {
namespace {

// The ablated producer (or TMA) build of each mask of kPrefillAblations (bf16, head_dim 128: the
// caller checks): the one whose mask is skip runs; false when none is. (The caller refuses a mask
// the build has not: prefill_ablation_applies; the producer build's are not even instantiated.)
template <size_t... kI>
bool launch_ablated(unsigned skip, bool tma, const PrefillParams& p, cudaStream_t stream, std::index_sequence<kI...>) {
  const auto run = [&](auto mask) {
    constexpr unsigned kMask = decltype(mask)::value;
    if (tma) {
      run_tma_kernel<__nv_bfloat16, 128, kMask>(p, stream, "attention prefill_wgmma_tma_kernel (ablated)");
    } else if constexpr (prefill_ablation_applies(kMask, false)) {  // (the caller refused the others)
      run_producer_kernel<__nv_bfloat16, 128, false, kMask>(
          p, stream, "an ablated producer build", "attention prefill_wgmma_pingpong_kernel (producer warpgroup, ablated)");
    }
    return true;
  };
  return ((skip == kPrefillAblations[kI] && run(std::integral_constant<unsigned, kPrefillAblations[kI]>{})) || ...);
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
                {kOverlapPv, "softmax under the previous P V"},  // (before the turns: "... + no turns")
                {kAblateTurns, "no turns"},
                {kRotateTiles, "rotated tiles"},
                {kLateTurns, "turns passed after the wait"}};
  std::string out;
  for (const auto& part : kParts) {
    if (skip & part.bit) out += (out.empty() ? "" : " + ") + std::string(part.name);
  }
  return out;
}

void attention_prefill_wgmma_ablated(const AttentionArgs& a, unsigned skip, cudaStream_t stream, bool tma) {
  const AttentionDims d = check_attention_args(a, kOp);
  GQA_CHECK(a.q.dtype() == DType::kBF16 && d.hd == 128,
            kOp << ": the ablated builds are bf16 with head_dim 128, not " << dtype_name(a.q.dtype()) << " q "
                << shape_str(a.q.shape()));
  const bool listed = std::find(std::begin(kPrefillAblations), std::end(kPrefillAblations), skip) !=
                      std::end(kPrefillAblations);
  GQA_CHECK(skip == 0 || listed, kOp << ": no ablated build for mask " << skip << " (kPrefillAblations lists them)");
  GQA_CHECK(prefill_ablation_applies(skip, tma), kOp << ": the producer build has no kernel for mask " << skip << " ("
                                                     << prefill_ablation_name(skip) << " is the TMA build's)");
  if (d.n == 0) return;
  GQA_CHECK(prefill_wgmma_available(), kOp << ": needs a compute capability 9.0 GPU (H100, H200): its kernels are "
                                              "sm_90a code");
  const PrefillParams p = prefill_params(a, d);
  if (skip == 0 && tma) {  // the TMA build itself (what the dispatcher's TMA build runs at bf16 hd 128)
    return run_tma_kernel<__nv_bfloat16, 128, 0>(p, stream, "attention prefill_wgmma_tma_kernel (producer warpgroup, TMA)");
  }
  if (skip == 0) {  // the producer build itself
    return run_producer_kernel<__nv_bfloat16, 128, false, 0>(p, stream, "the producer build",
                                                            "attention prefill_wgmma_pingpong_kernel (producer warpgroup)");
  }
  const bool ran = launch_ablated(skip, tma, p, stream, std::make_index_sequence<std::size(kPrefillAblations)>{});
  GQA_CHECK(ran, kOp << ": no ablated build for mask " << skip << " (kPrefillAblations lists them)");
}

}  // namespace gqa::cuda
