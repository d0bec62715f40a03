// The bits of the wgmma prefill kernels' compile-time mask (the kSkip template parameter of
// attention_prefill_wgmma_kernels.cuh): parts of the work left out (kAblate*: the timing aid of
// attention_prefill_wgmma_ablation.h), and variants that still compute the attention: rotated
// tiles (GQA_PREFILL_WGMMA_ROTATE), the TMA build's late turns (GQA_PREFILL_WGMMA_LATE_TURNS) and
// its softmax under the previous P V (kOverlapPv: the default build since run 11,
// attention_prefill_wgmma.h). Included by the kernels, the dispatcher and the ablation.
#pragma once

namespace gqa::cuda {

enum : unsigned {
  kAblateCopies = 1,   // the producer warpgroup copies nothing (it still hands every stage over)
  kAblateSoftmax = 2,  // no softmax: P = S rounded, no masking, max, exp2, sums or rescaling
  kAblateQk = 4,       // no S = q K^T: S is zeros (the softmax still runs on them)
  kAblatePv = 8,       // no O += P V (nor the packing of P)
  kAblateTurns = 16,   // the two consumer warpgroups do not take turns at the tensor cores
  // Not an ablation: each block takes its pass's K/V tiles from tile blockIdx % n on (wrapping
  // round), so the resident blocks, which otherwise stream the same tiles of the one KV head in
  // step, read different ones at a time (the online softmax does not care about the order).
  kRotateTiles = 32,
  // Not an ablation either: each consumer warpgroup passes its tensor-core turn once its GEMM
  // (S = q K^T, O += P V) has completed, not once issued. Run 10's ablation of the TMA build at
  // 8K / 32K: the skeleton (no copies, softmax, QK or PV) 0.09 / 0.74 ms; the GEMMs over it (no
  // copies + no softmax, less the skeleton) 0.13 / 1.94; the softmax over it (no copies + no QK +
  // no PV, less the skeleton) 0.11 / 1.64; their sum 0.33 / 4.32 against the full kernel's
  // 0.32 / 4.16: almost no overlap of one warpgroup's softmax with the other's GEMMs, and 'no
  // turns' changed nothing. As if both warpgroups' GEMMs, issued back to back, shared the tensor
  // cores and completed together, keeping the two in step. Passing the turn after the wait lets one
  // warpgroup's GEMM run alone. TMA build only. (Seventeenth session; run 11: 1.03-1.06 of the
  // TMA build's time, no faster.)
  kLateTurns = 64,
  // Not an ablation: the overlap build's consumers (each warpgroup's softmax of tile i under its own
  // P V of tile i - 1, FlashAttention-3's intra-warpgroup pipelining; one turn a tile) on the TMA
  // build's tiles. The overlap build measured no faster than the producer build (runs 6-8) while
  // copies bounded both ('no copies' 0.55 of the producer build's time); the TMA build's copies cost
  // ~5% (run 10), its softmax ~30%. TMA build only (the producer build's is the overlap build,
  // GQA_PREFILL_WGMMA_OVERLAP) and alone (no other bit with it). (Seventeenth session; run 11: 0.90-0.93
  // of the TMA build's time, and the default build since: 'tma_overlap'.)
  kOverlapPv = 128,
  // (kOverlapPv | kAblateTurns: the overlap build without the turn-keeping, still the attention, the
  // same arithmetic in each warpgroup: the TMA build's 'no turns' row measured 0.95-0.99 of its
  // full time at 8K-32K in runs 10-15 (1.01 at 128K); whether the default overlap build gains the same
  // is the row's question. Thirtieth session; unrun.)
};

}  // namespace gqa::cuda
