// Weights pulled into the L2 ahead of the op that reads them, while the HBM would otherwise idle:
// at decode, the attention over a short context reads a few MB while the O projection (and the
// gate/up after it) wait to stream tens of MB. One small kernel, launched in the stream between
// two ops, asks the L2 for whole weights (rows [r, :] in order) and, where the budget ends inside
// a weight, for the same leading part of each of its rows (a one-wave GEMV's blocks each own
// rows, so only a share of every row speeds up all of them). Opt-in (GQA_L2_PREFETCH=1 or
// set_l2_prefetch(true)) until a GPU run shows the step faster; needs PDL on (without it the
// kernel would add a serial launch).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace gqa::cuda {

bool l2_prefetch_enabled();
void set_l2_prefetch(bool on);

// One weight: `rows` rows of `row_bytes` bytes each, contiguous from `ptr`.
struct PrefetchWeight {
  const void* ptr = nullptr;
  int64_t rows = 0;
  int64_t row_bytes = 0;
};

// The per-row byte counts a prefetch of `weights` in order covers within `budget` bytes: every row
// of each weight that fits whole, then, for the first that does not, the budget left over its
// rows (whole 128-byte lines of each row, possibly 0); 0 for the weights after it. Host arithmetic.
std::vector<int64_t> l2_prefetch_plan(const std::vector<PrefetchWeight>& weights, int64_t budget);

// The bytes this device's prefetches may use: half its L2, so what the ops in between stream
// through the L2 does not evict the prefetched lines before their reader comes.
int64_t l2_prefetch_budget();

// Launches the prefetch of `weights` (at most kMaxPrefetchWeights) within `budget` on `stream`
// (launch_pdl: it waits for its predecessor, then lets its successor launch at once).
constexpr int kMaxPrefetchWeights = 4;
void l2_prefetch(const std::vector<PrefetchWeight>& weights, int64_t budget, cudaStream_t stream);

}  // namespace gqa::cuda
