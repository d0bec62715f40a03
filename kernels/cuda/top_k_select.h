// Each row's k best logits by radix selection, without sorting the row (sampling.cu uses it for
// Ops::top_k_rows and for top-k sampling): one block per row finds the k-th largest value in four
// 8-bit digit passes over the row, takes every larger value and the lowest columns among those
// equal to it (the CPU's tie rule), and sorts only those k in shared memory. Sorting a whole
// 16K-128K row per token instead (a segmented radix sort) moves the row ~8 times through memory in
// several kernels; here the row is read 5 times by one kernel, from the L2 after the first.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/tensor.h"

namespace gqa::cuda {

// The largest k the selection serves (the candidates are sorted in one block's shared memory).
constexpr int kSelectMaxK = 1024;

// Where the selection writes, per row of logits [m, n]: either `rows` (top_k_row_width(k) floats
// per row, Ops::top_k_rows' format: k (logit, column) pairs in CandidateOrder padded with
// (-inf, -1) past n, the NaN flag, the mass as hi and lo), or `keys`/`ids` ([m, k]: the same pairs
// as two arrays, padded alike) with `nan_flags` ([m]: 1 for a row holding a NaN, whose pairs are
// then left unwritten) and, when the mass is asked for, `mass` ([m] f64).
struct SelectOut {
  float* rows = nullptr;
  float* keys = nullptr;
  int32_t* ids = nullptr;
  int32_t* nan_flags = nullptr;
  double* mass = nullptr;
};

// logits [m, n] f32/f16/bf16 on the device, 1 <= k <= kSelectMaxK; inv_t > 0: the rows' mass
// sum_j exp((l_j - l_max) * inv_t) in f64 (0 for an all -inf row; keys mode: needs `mass`), 0: none.
void top_k_select(const Tensor& logits, int k, double inv_t, const SelectOut& out, cudaStream_t stream);

}  // namespace gqa::cuda
