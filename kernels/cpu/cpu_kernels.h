// The CPU reference kernels: one free function per op, each in its own .cpp.
//
// Everything is f32 on the host. These are the oracle the CUDA kernels are tested against, so
// they favour obvious correctness over speed (attention accumulates in double). Each function
// validates dtypes and shapes first and throws gqa::Error naming the op and the mismatch.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "kernels/ops.h"

namespace gqa::cpu {

void embedding(const EmbeddingArgs& a);
void rmsnorm(const RmsNormArgs& a);
// The residual add, then rmsnorm (AddRmsNormArgs: in place on x, or into x_out).
void add_rmsnorm(const AddRmsNormArgs& a);
void matmul(const MatmulArgs& a);
void rope(const RopeArgs& a);
void kv_write(const KvWriteArgs& a);
void attention(const AttentionArgs& a);  // large calls spread over cpu_threads() threads
// Threads a large CPU kernel call may use: GQA_CPU_THREADS when set (1..4096; e.g. several MPI
// ranks on one machine), else the machine's hardware threads.
int64_t cpu_threads();
void swiglu(const SwigluArgs& a);
// y += x; x, y: [any shape], the same shape.
void add(const Tensor& x, Tensor y);

// Token sampling (kernels/cpu/sampling.cpp): argmax with ties to the lowest id; sample_row applies
// SampleSpec to one row of logits with the uniform u in [0, 1) (unused when greedy), throwing
// gqa::Error "logits contain NaN" for a row with NaN.
struct SampleScratch {  // reused across calls
  std::vector<std::pair<float, int32_t>> candidates;
  std::vector<double> probs;
};
int32_t argmax_row(const float* logits, int64_t n);
int32_t sample_row(const float* logits, int64_t vocab, const SampleSpec& spec, double u, SampleScratch& scratch);
// The same rule (temperature > 0) over scratch.candidates, (logit, token id) pairs in any order
// that hold every candidate the rule can pick: all ids, or a superset of the top_k (so several
// ranks' local top-k lists of vocab-parallel logits give the token the whole row would).
// Reorders scratch.candidates.
int32_t sample_candidates(const SampleSpec& spec, double u, SampleScratch& scratch);
// The rule (temperature > 0, top_k 0: over all ids) over several vocabulary slices' candidates
// and masses (Ops::top_k_rows, all-gathered): the token sample_row gives on the whole row with the
// same u (only the total differs, at ~1e-14 relative: summed per slice, rounded to two floats and
// rescaled, so a draw within that of a top_p boundary may differ), or -1 when the rule would look
// past what the candidates determine: the nucleus or the draw reaches an id that a truncated
// slice left out (the caller then draws from the whole row with the same u). Uses scratch.
int32_t sample_slices(const SampleSpec& spec, double u, const std::vector<SliceCandidates>& slices,
                      SampleScratch& scratch);
// Ops::top_k_rows of m rows of n logits into out (m * top_k_row_width(k) floats), row by row.
void top_k_rows(const float* logits, int64_t m, int64_t n, int64_t k, float temperature, float* out);
// One row of Ops::top_k_rows (kernels/cpu/top_k.cpp): out gets top_k_row_width(k) floats.
void top_k_row(const float* logits, int64_t n, int64_t k, float temperature, float* out,
               std::vector<std::pair<float, int32_t>>& scratch);

namespace detail {

// Throws unless `t` is a defined host tensor of `dtype` with `ndim` dimensions.
inline void expect_kind(const Tensor& t, DType dtype, int ndim, const char* op, const char* name) {
  GQA_CHECK(t.defined(), op << ": " << name << " is undefined");
  GQA_CHECK(t.device() == Device::kCpu, op << ": " << name << " must be a host tensor");
  GQA_CHECK(t.dtype() == dtype, op << ": " << name << " must be " << dtype_name(dtype) << ", got "
                                   << dtype_name(t.dtype()) << " " << shape_str(t.shape()));
  GQA_CHECK(t.ndim() == ndim,
            op << ": " << name << " must have " << ndim << " dimensions, got " << shape_str(t.shape()));
}

// Throws unless `t` is a defined host tensor of `dtype` with exactly `shape`.
inline void expect(const Tensor& t, DType dtype, const Shape& shape, const char* op, const char* name) {
  expect_kind(t, dtype, static_cast<int>(shape.size()), op, name);
  GQA_CHECK(t.shape() == shape,
            op << ": " << name << " has shape " << shape_str(t.shape()) << ", expected " << shape_str(shape));
}

}  // namespace detail
}  // namespace gqa::cpu
