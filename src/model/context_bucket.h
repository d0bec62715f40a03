// The context bound a recorded decode step (a CUDA graph) serves: the smallest power of two of
// keys, at least kMinContextBucket, that holds the step's longest context. A generation then
// re-records its decode graph only O(log context) times, and the graph's attention plan (its
// splits, from the bound: kernels/cuda/attention_decode_plan.cpp) covers at most twice the keys
// the step attends to. Counted in keys, not pages: with 256-token pages a bound of 4 pages made
// every decode below 1024 keys run a plan of mostly empty splits and a merge.
#pragma once

#include <cstdint>

namespace gqa {

constexpr int64_t kMinContextBucket = 64;  // one decode attention tile (kDecodeTileKeys)

inline int64_t context_bucket(int64_t context) {
  int64_t b = kMinContextBucket;
  while (b < context) b *= 2;
  return b;
}

}  // namespace gqa
