// The tensor-core decode attention's grouped K/V loader layout (attention_decode_mma.cu,
// DecodeLoader::kGroups), host- and device-callable so the host tests can check its invariants.
//
// A K or V stage of 64 keys holds 8 groups: group j (keys start + 8j .. + 7, one cp.async.bulk)
// at j * kStride elements, its 8 rows HD apart; the stride is 8 rows plus 16 bytes, an odd number
// of 16-byte bank groups, so row r of 8 consecutive groups lands in 8 different bank groups. Warp
// w computes rows 2w and 2w + 1 of every group: its score column n (0..15) is row 2w + n / 8 of
// group n % 8 (from a tile pointer at row 2w of group 0), key start + 8 (n % 8) + 2w + n / 8; the
// 8 rows of an ldmatrix matrix (n = 8i .. 8i + 7) therefore come from 8 groups.
#pragma once

#include <cuda_runtime.h>

namespace gqa::cuda {

// Row n of a warp's tile, column col: its offset in elements from the warp's tile pointer.
template <int HD>
struct GroupedRows {
  static constexpr int kStride = 8 * HD + 8;
  __host__ __device__ __forceinline__ int operator()(int n, int col) const {
    return (n % 8) * kStride + (n / 8) * HD + col;
  }
};

// The key of a warp's score column n; base = the stage's first key + 2w. Column 15 holds the
// largest (base + 57), as softmax_tile_keys expects of a Keys functor.
struct GroupedKeys {
  int base;
  __host__ __device__ __forceinline__ int operator()(int n) const { return base + 8 * (n % 8) + n / 8; }
};

}  // namespace gqa::cuda
