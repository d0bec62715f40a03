// Token sampling on the GPU, with the CPU sampler's semantics (src/runtime/sampler.cpp):
//   greedy:  argmax, ties go to the lowest id;
//   sampled: candidates sorted by logit (descending, ties lowest id first), cut to top_k,
//            softmax at the temperature (max-subtracted, in f64), cut to the smallest prefix
//            whose mass reaches top_p, then the first candidate whose cumulative mass exceeds
//            u * kept_mass, where u in [0, 1) comes from the host (one per row). Drawing u with
//            std::generate_canonical<double, 53> from the Sampler's std::mt19937_64(seed) gives
//            the same token the CPU Sampler picks (u is passed as f32, so a draw within ~1e-7
//            of a boundary may differ); the result is deterministic for a seed either way.
// A row containing NaN yields -1 (the CPU sampler throws): the caller checks and reports.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/ops.h"

namespace gqa::cuda {

struct ArgmaxArgs {
  Tensor logits;  // [m, vocab] f32, f16 or bf16
  Tensor out;     // i32 [m]
};

void argmax(const ArgmaxArgs& a, cudaStream_t stream);

struct SampleArgs {
  Tensor logits;              // [m, vocab] f32, f16 or bf16
  Tensor uniforms;            // f32 [m], each in [0, 1)
  Tensor out;                 // i32 [m]
  float temperature = 1.0f;   // 0 = greedy (argmax; uniforms unused)
  int64_t top_k = 0;          // 0 = all tokens
  float top_p = 1.0f;         // in (0, 1]
};

// Sorts a copy of the logits (stream-ordered scratch from cudaMallocAsync).
void sample(const SampleArgs& a, cudaStream_t stream);

// Temperature / top-p sampling over the whole vocabulary (a.top_k 0, a.temperature > 0) drawn
// from each row's best `candidates` logits (top_k_select.h) and its softmax mass instead of a
// sorted row: the nucleus and the draw as sample() takes them, wherever they fall within those
// candidates; a row whose nucleus or draw reaches past them gets kUndecided (the caller then runs
// sample() on the rows), -1 a row holding NaN. 1 <= candidates <= kSelectMaxK.
constexpr int32_t kUndecided = -2;
void sample_from_candidates(const SampleArgs& a, int candidates, cudaStream_t stream);

struct TopKArgs {
  Tensor logits;            // [m, n] f32, f16 or bf16
  Tensor out;               // f32 [m, top_k_row_width(k)]: Ops::top_k_rows' rows
  int64_t k = 1;            // >= 1
  float temperature = 0.0f;  // > 0: each row's mass too (f64 block sum)
};

// Greedy candidates (k = 1, temperature 0): the argmax reduction; else the sampler's stable
// segmented sort of a copy, then the first k of each row and the row's mass (stream-ordered
// scratch from cudaMallocAsync).
void top_k(const TopKArgs& a, cudaStream_t stream);

// Whether CudaOps::top_k_rows selects on the GPU (top_k above; the default) or downloads the
// logits and runs the CPU reference (cpu::top_k_row) on them: GQA_GPU_TOP_K=0 or
// set_gpu_top_k(false), a fallback that isolates the GPU selection when a T > 1 run goes wrong.
bool gpu_top_k_enabled();
void set_gpu_top_k(bool on);

// Whether top-k (k <= kSelectMaxK, top_k_select.h) is selected without sorting the row (the
// default) or from a segmented sort of it: GQA_TOP_K_SELECT=0 or set_top_k_select(false). Both
// give the same candidates and tokens; the sort is the older path (verified on an H200).
bool top_k_select_enabled();
void set_top_k_select(bool on);

}  // namespace gqa::cuda
