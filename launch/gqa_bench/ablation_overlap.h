// What the prefill ablation's rows say of overlap: the TMA (or producer) build's time with
// everything but the skeleton left out, with only the GEMMs kept, and with only the softmax kept,
// against the full kernel's. Less the skeleton, the GEMMs and the softmax each cost what they add;
// were they run one after the other, the full time would be their sum plus the skeleton; were the
// smaller hidden wholly under the larger, it would be the larger plus the skeleton. Run 10 (TMA
// build, 8K): skeleton 0.09, GEMMs 0.22, softmax 0.20, full 0.32 ms: 0.13 + 0.11 + 0.09 = 0.33,
// almost nothing hidden. Host arithmetic, for gqa-bench's ablation tables.
#pragma once

#include <algorithm>
#include <cmath>

namespace gqa::bench {

struct AblationOverlap {
  bool ok = false;      // every time finite and positive, and both parts above the skeleton
  double gemms = 0;     // (GEMMs and skeleton) - skeleton
  double softmax = 0;   // (softmax and skeleton) - skeleton
  double serial = 0;    // skeleton + gemms + softmax: the full time with no overlap
  double hidden = 0;    // (serial - full) / min(gemms, softmax): 0 none hidden, 1 the smaller wholly
};

// full, skeleton, gemms_and_skeleton, softmax_and_skeleton: times in any one unit.
inline AblationOverlap ablation_overlap(double full, double skeleton, double gemms_and_skeleton,
                                        double softmax_and_skeleton) {
  AblationOverlap r;
  for (double t : {full, skeleton, gemms_and_skeleton, softmax_and_skeleton}) {
    if (!(std::isfinite(t) && t > 0)) return r;
  }
  r.gemms = gemms_and_skeleton - skeleton;
  r.softmax = softmax_and_skeleton - skeleton;
  if (!(r.gemms > 0 && r.softmax > 0)) return r;
  r.serial = skeleton + r.gemms + r.softmax;
  r.hidden = (r.serial - full) / std::min(r.gemms, r.softmax);
  r.ok = true;
  return r;
}

}  // namespace gqa::bench
