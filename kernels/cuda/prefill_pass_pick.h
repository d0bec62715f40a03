// A prefill block's next pass (the prefill kernels serve their rows one sequence at a time,
// attention_common.cuh): the first unfinished row's sequence, and the keys [0, end) its unfinished
// rows need. Pure arithmetic on the block's row bookkeeping (done, seq, pos per row), for both the
// kernels and a host test (tests/cuda/host_test_prefill_pass_pick.cpp):
// - pass_pick_serial: one thread over all N rows (the plain prefill kernel's way);
// - lane_first_unfinished and lane_pass_end: lane l of a warp over rows l, l + 32, ..., N / 32 of
//   them; the minimum first row over the 32 lanes gives the sequence and the maximum end the keys;
//   pass_pick_lanes composes them with xor butterflies over a shuffle the caller gives
//   (pick_next_pass_warp: __shfl_xor_sync; the test: 32 emulated lanes in threads). Run 10's TMA prefill ablation had a skeleton
//   of ~15 us a block (a fit over 8K and 32K: docs/STATUS.md); one thread's walks over the 128
//   rows, three a block (the first pick, the pass's end, the pick that finds none), were part of it.
#pragma once

#if defined(__CUDACC__)
#define GQA_PASS_PICK_FN __host__ __device__ __forceinline__
#else
#define GQA_PASS_PICK_FN inline
#endif

namespace gqa::cuda {

struct PassPick {
  int seq;  // the first unfinished row's sequence; -1 when every row is done
  int end;  // one past the largest position of that sequence's unfinished rows; 0 when none
};

template <int N>
GQA_PASS_PICK_FN PassPick pass_pick_serial(const int* done, const int* seq_of, const int* pos) {
  PassPick pick{-1, 0};
  for (int r = 0; r < N; ++r) {
    if (done[r]) continue;
    if (pick.seq < 0) pick.seq = seq_of[r];
    if (seq_of[r] == pick.seq) pick.end = pick.end > pos[r] + 1 ? pick.end : pos[r] + 1;
  }
  return pick;
}

// Lane `lane`'s first unfinished row (N when none of its rows is).
template <int N>
GQA_PASS_PICK_FN int lane_first_unfinished(const int* done, int lane) {
  static_assert(N % 32 == 0, "whole rows per lane");
  int first = N;
  for (int k = N / 32 - 1; k >= 0; --k) {
    if (!done[lane + 32 * k]) first = lane + 32 * k;
  }
  return first;
}

// One past the largest position of lane `lane`'s unfinished rows of sequence `seq` (0 when none).
template <int N>
GQA_PASS_PICK_FN int lane_pass_end(const int* done, const int* seq_of, const int* pos, int lane, int seq) {
  static_assert(N % 32 == 0, "whole rows per lane");
  int end = 0;
  for (int k = 0; k < N / 32; ++k) {
    const int r = lane + 32 * k;
    if (!done[r] && seq_of[r] == seq) end = end > pos[r] + 1 ? end : pos[r] + 1;
  }
  return end;
}

// Lane `lane`'s part of the pass picked by a whole warp: its scans, then xor-butterfly minimum and
// maximum through shfl_xor(value, offset) (the other lane's value: __shfl_xor_sync in the kernels,
// an emulated warp in the host test); every lane returns the same pick.
template <int N, typename ShflXor>
GQA_PASS_PICK_FN PassPick pass_pick_lanes(const int* done, const int* seq_of, const int* pos, int lane,
                                          ShflXor shfl_xor) {
  int first = lane_first_unfinished<N>(done, lane);
  for (int off = 16; off > 0; off >>= 1) {
    const int other = shfl_xor(first, off);
    first = first < other ? first : other;
  }
  const int seq = first < N ? seq_of[first] : -1;
  int end = lane_pass_end<N>(done, seq_of, pos, lane, seq);
  for (int off = 16; off > 0; off >>= 1) {
    const int other = shfl_xor(end, off);
    end = end > other ? end : other;
  }
  return {seq, end};
}

}  // namespace gqa::cuda

#undef GQA_PASS_PICK_FN
