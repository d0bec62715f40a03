// Key -> page of the paged KV cache without an integer division (attention_common.cuh's
// PagedParams::page_index), host- and device-callable so the host tests can check it.
//
// The paged-attention loaders compute key / block_size for every 16-byte copy they issue; with a
// run-time divisor that is a ~35-instruction signed division each (the wgmma prefill spent about
// 300 of its ~1600 instructions per tile and thread on them). For 0 <= key < 2^31 and any
// block size d in [1, 2^31), key / d = (key * m) >> s with s = 31 + ceil(log2 d) and
// m = ceil(2^s / d) (< 2^32): m = (2^s + e) / d with 0 <= e < d <= 2^(s - 31), so key * m / 2^s
// exceeds key / d by key * e / (d 2^s) < 1 / d, too little to reach the next integer.
// One 32x32->64-bit multiply and one shift.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace gqa::cuda {

struct PageDivider {
  uint32_t magic = 1u << 31;
  int shift = 31;

  // The divider for block_size in [1, 2^31) (the caller checks the range).
  static PageDivider make(int block_size) {
    int log2_ceil = 0;
    while ((int64_t(1) << log2_ceil) < block_size) ++log2_ceil;
    PageDivider d;
    d.shift = 31 + log2_ceil;
    d.magic = static_cast<uint32_t>(((uint64_t(1) << d.shift) + uint64_t(block_size) - 1) / uint64_t(block_size));
    return d;
  }

  // key / block_size for 0 <= key < 2^31.
  __host__ __device__ __forceinline__ int divide(int key) const {
    return static_cast<int>((uint64_t(static_cast<uint32_t>(key)) * magic) >> shift);
  }
};

}  // namespace gqa::cuda
