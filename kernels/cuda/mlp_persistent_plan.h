// The persistent MLP kernel's shared-memory plan (mlp_persistent.h), host arithmetic only (tested
// in CI): how many stages of W its ring holds, within what one block may have.
#pragma once

#include <algorithm>
#include <cstddef>

namespace gqa::cuda {

// At most this many stages (the ring's mbarriers are a static array of this size), and at least
// this many: with two, one stage would be in flight while one is computed, and the stage just
// freed would be refilled right behind its reader; too little W in flight per SM to stream (a
// shape that plans fewer, e.g. Llama-3-8B's MLP at two rows, is left to the unfused calls).
constexpr int kMlpStagesMax = 6;
constexpr int kMlpStagesMin = 3;

struct MlpPersistentPlan {
  bool ok = false;  // at least kMlpStagesMin stages fit
  int stages = 0;
  size_t stage_bytes = 0;  // one stage: the larger of the two phases' units
  size_t smem = 0;         // dynamic shared memory per block: stages * stage_bytes + rows_bytes
};

// unit_up, unit_down: one unit of W (a block's set of row groups) of the gate/up and of the down
// phase; rows_bytes: the block's copies of x (normalised) and of act; static_bytes: what a block
// holds besides its dynamic shared memory; max_dynamic: the device's per-block opt-in limit. As
// many stages as fit, kMlpStagesMin to kMlpStagesMax: one block per SM, and every stage but the one
// being computed is W in flight.
inline MlpPersistentPlan mlp_persistent_plan(size_t unit_up, size_t unit_down, size_t rows_bytes, size_t static_bytes,
                                             size_t max_dynamic) {
  MlpPersistentPlan p;
  p.stage_bytes = std::max(unit_up, unit_down);
  if (p.stage_bytes == 0 || max_dynamic < rows_bytes + static_bytes) return p;
  const size_t room = max_dynamic - rows_bytes - static_bytes;
  p.stages = static_cast<int>(std::min<size_t>(kMlpStagesMax, room / p.stage_bytes));
  p.ok = p.stages >= kMlpStagesMin;
  p.smem = p.ok ? p.stages * p.stage_bytes + rows_bytes : 0;
  if (!p.ok) p.stages = 0;
  return p;
}

}  // namespace gqa::cuda
