// A timing aid for gqa-bench: the wgmma prefill's producer build (the default prefill on
// H100/H200 until run 9 made the TMA build it, attention_prefill_wgmma.h) with parts of its work
// left out, so that the times with and without each part say which one bounds the kernel (runs
// 6-7: 36% of the GEMM rate, where the tensor-core work alone would allow far more). Each mask is
// a kernel of its own, the build's code with the named parts compiled out; what an ablation writes
// to a.out is meaningless (no softmax, or scores of zeros, or no K/V copied: the tiles hold
// whatever shared memory held). Masks that are variants, not ablations, still compute the
// attention: kRotateTiles (both builds), kAblateTurns, kLateTurns, kOverlapPv and kOverlapPv |
// kAblateTurns (the last three the TMA build's only). bf16,
// head_dim 128 only (the benchmarked shard's shape). Without tma, every mask is of the in-order,
// no-swizzle producer build whatever the switches say (GQA_PREFILL_WGMMA_SWIZZLE and
// GQA_PREFILL_WGMMA_TMA are on by default since run 9): "full" here stays the in-order producer
// build. The same masks of the TMA build (the default in runs 9-11; first run in run 10) say the
// same of it: runs 8-10 had it at 50-54% of the GEMM rate at 8K against 65-67% at 32K-128K.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "kernels/cuda/attention_prefill_wgmma_mask.h"
#include "kernels/ops.h"

namespace gqa::cuda {

// The mask bits: attention_prefill_wgmma_mask.h.

// The masks attention_prefill_wgmma_ablated runs, in the order gqa-bench reports them.
// (kRotateTiles first, the row that could make a default; kLateTurns and kOverlapPv, unrun when
// written, last, where a trap in either, which poisons the process's context, cost no other row;
// both ran in run 11.)
constexpr unsigned kPrefillAblations[] = {
    kRotateTiles,
    kAblateTurns,
    kAblateCopies,
    kAblateSoftmax,
    kAblatePv,
    kAblateQk | kAblatePv,
    kAblateCopies | kAblateSoftmax,
    kAblateCopies | kAblateQk | kAblatePv,
    kAblateCopies | kAblateSoftmax | kAblateQk | kAblatePv,
    // the skeleton without the turns either: whether the skeleton's time (run 10: 0.29 of the TMA
    // build's at 8K, ~0.7 us a tile and SM) is the turn-keeping's four hand-overs a tile
    kAblateCopies | kAblateSoftmax | kAblateQk | kAblatePv | kAblateTurns,
    kLateTurns,
    kOverlapPv,
    // the default build (the overlap's consumers) without its turns: still the attention
    kOverlapPv | kAblateTurns,
};

// Whether the producer build (tma false) or the TMA build has a kernel for mask `skip` of
// kPrefillAblations: every mask but kLateTurns and kOverlapPv, which only the TMA build has.
constexpr bool prefill_ablation_applies(unsigned skip, bool tma) {
  return tma || (skip & (kLateTurns | kOverlapPv)) == 0;
}

// "no copies + no softmax" for a mask ("rotated tiles" for kRotateTiles); "full" for 0.
std::string prefill_ablation_name(unsigned skip);

// The producer build (with tma, the TMA build: the default in runs 9-11; its kernel's masks unrun
// when written) with `skip`'s parts left out (one of kPrefillAblations, or 0 for the build itself)
// on a prefill call that attention_prefill_wgmma would take. The TMA build's "no copies" issues no
// TMA load either (and copies no tile); its other masks, at block sizes without TMA boxes
// (tma_box_rows 0), copy every tile as the swizzle build does, as the dispatcher's TMA build would. Throws gqa::Error ("cuda attention
// (prefill, wgmma): ...") for invalid arguments, another dtype or head_dim, a mask not in the list
// or not of that build (prefill_ablation_applies), or a device without prefill_wgmma_available().
void attention_prefill_wgmma_ablated(const AttentionArgs& a, unsigned skip, cudaStream_t stream, bool tma = false);

}  // namespace gqa::cuda
