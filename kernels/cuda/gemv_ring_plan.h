// The ring build's launch shape (gemv_ring.cuh), host arithmetic only (tested in CI): how many
// shared-memory stages of one unit (a block's set of row groups) each block keeps, and whether the
// build serves the shape at all.
#pragma once

#include <algorithm>
#include <cstddef>

namespace gqa::cuda {

// At most this many stages, in at most this many bytes of dynamic shared memory per block with the
// norm's rows: within the per-block opt-in of the devices the build runs on (sm_90: 227 KB), one
// attribute for every launch.
constexpr int kGemvRingStagesMax = 4;
constexpr size_t kGemvRingMaxBytes = 160 * 1024;
// The most 256-thread blocks an SM runs.
constexpr int kGemvRingMaxBlocksPerSm = 8;

struct GemvRingPlan {
  bool ok = false;  // two stages and the rows fit kGemvRingMaxBytes
  int stages = 0;
  size_t smem = 0;  // dynamic shared memory per block: stages * unit_bytes + norm_bytes
};

// The stage count (2 .. kGemvRingStagesMax) that keeps the most stages in flight per SM (one per
// block is being computed) within smem_per_sm, the larger count on a tie; static_bytes: what a
// block holds besides its dynamic shared memory (the kernel's static arrays and the per-block
// reserve).
inline GemvRingPlan gemv_ring_plan(size_t unit_bytes, size_t norm_bytes, size_t smem_per_sm, size_t static_bytes) {
  GemvRingPlan p;
  int best = -1;
  for (int s = 2; s <= kGemvRingStagesMax; ++s) {
    const size_t bytes = s * unit_bytes + norm_bytes;
    if (bytes > kGemvRingMaxBytes) break;
    const int blocks =
        static_cast<int>(std::min<size_t>(kGemvRingMaxBlocksPerSm, smem_per_sm / (bytes + static_bytes)));
    if (blocks >= 1 && blocks * (s - 1) >= best) {
      best = blocks * (s - 1);
      p = {true, s, bytes};
    }
  }
  return p;
}

}  // namespace gqa::cuda
