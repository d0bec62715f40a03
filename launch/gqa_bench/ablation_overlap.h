// What the prefill ablation's rows say of overlap: the TMA (or producer) build's time with
// everything but the skeleton left out, with only the GEMMs kept, and with only the softmax kept,
// against the time with both kept (`full`: all four without the copies, so that the copies are
// not counted as overlap). Less the skeleton, the GEMMs and the softmax each cost what they add;
// were they run one after the other, the full time would be their sum plus the skeleton; were the
// smaller hidden wholly under the larger, it would be the larger plus the skeleton. (Before the
// twenty-ninth session gqa-bench passed the kernel with its copies as `full`: run 15's "6%" (TMA
// build, 8K) is ~28% against the 'no copies' row, its producer build's "-240%" ~21%.) Host
// arithmetic, for gqa-bench's ablation tables.
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
