// The persistent wgmma prefill's schedule (attention_prefill_wgmma_persistent.cuh): which row
// block ("item") each block of its grid takes in each round. Items are numbered heaviest first
// (a causal prompt's last row block has the most keys); round k's items are k * grid .. k * grid +
// grid - 1, taken in block order in even rounds and in reverse in odd ones, so the heaviest item of
// one round goes with the lightest of the next: for work falling linearly with the item number
// each block's sum is about the same, where the hardware's block scheduler (which balances the
// other builds' one-block-an-item grids) does not run. Pure arithmetic, for the kernel and a host
// test (tests/cuda/host_test_persistent_schedule.cpp).
#pragma once

#if defined(__CUDACC__)
#define GQA_SCHEDULE_FN __host__ __device__ __forceinline__
#else
#define GQA_SCHEDULE_FN inline
#endif

namespace gqa::cuda {

// Block `block` of `grid`'s item in round k of `items` (-1 where round k has none for it). Rounds
// run while k * grid < items.
GQA_SCHEDULE_FN int zigzag_item(int k, int block, int grid, int items) {
  const int item = k * grid + (k % 2 == 0 ? block : grid - 1 - block);
  return item < items ? item : -1;
}

}  // namespace gqa::cuda

#undef GQA_SCHEDULE_FN
