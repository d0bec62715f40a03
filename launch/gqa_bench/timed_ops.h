// gqa-bench's in-step breakdown: an Ops that forwards every call to the CUDA backend and records
// a CUDA event after each compute op, so one decode step run op by op (no CUDA graph) splits into
// per-op times measured inside real steps (the L2 as a step leaves it, every launch gap included
// in the op after it). The events between kernels also cut programmatic dependent launch's
// overlap, so the sum is a step with PDL off, op by op.
#pragma once

#include <cuda_runtime.h>

#include <map>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_ops.h"

namespace gqa::bench {

class TimedOps : public Ops {
 public:
  explicit TimedOps(cuda::CudaOps& inner);
  ~TimedOps() override;
  TimedOps(const TimedOps&) = delete;
  TimedOps& operator=(const TimedOps&) = delete;

  // Marks the start of a step on the stream (the first op is timed from here).
  void begin_step();
  // Waits for the step and adds each op's microseconds to its label's total.
  void end_step();
  struct OpTotal {
    double us = 0;     // summed over the steps
    int64_t calls = 0;
  };
  const std::map<std::string, OpTotal>& totals() const { return totals_; }
  int steps() const { return steps_; }

  Device device() const override { return inner_.device(); }
  DType compute_dtype() const override { return inner_.compute_dtype(); }
  Tensor alloc(DType dtype, Shape shape) override { return inner_.alloc(dtype, std::move(shape)); }
  void upload_f32(const float* src, Tensor dst) override { inner_.upload_f32(src, dst); }
  void upload_i32(const int32_t* src, Tensor dst) override { inner_.upload_i32(src, dst); }
  void download_f32(const Tensor& src, float* dst) override { inner_.download_f32(src, dst); }
  void synchronize() override { inner_.synchronize(); }
  void* stream() override { return inner_.stream(); }
  std::vector<int32_t> sample_rows(const Tensor& logits, const SampleSpec& spec, const std::vector<double>& u) override {
    return inner_.sample_rows(logits, spec, u);
  }
  std::vector<float> top_k_rows(const Tensor& logits, int64_t k, float temperature) override {
    return inner_.top_k_rows(logits, k, temperature);
  }
  // Forwarded without an event of its own: where CudaOps launches it (GQA_L2_PREFETCH=1 with PDL
  // on), its time falls into the next op's, the attention's.
  void prefetch_weights(const std::vector<Tensor>& weights) override { inner_.prefetch_weights(weights); }

  void embedding(const EmbeddingArgs& a) override;
  void rmsnorm(const RmsNormArgs& a) override;
  void matmul(const MatmulArgs& a) override;
  void rope(const RopeArgs& a) override;
  void kv_write(const KvWriteArgs& a) override;
  void attention(const AttentionArgs& a) override;
  void swiglu(const SwigluArgs& a) override;
  void add(const Tensor& x, Tensor y) override;
  void add_rmsnorm(const AddRmsNormArgs& a) override;
  void rope_kv_write(const RopeKvWriteArgs& a) override;
  void matmul_rope_kv_write(const MatmulArgs& mm, const RopeKvWriteArgs& rk) override;
  void matmul_swiglu(const MatmulArgs& a, const Tensor& act) override;
  void add_rmsnorm_matmul_rope_kv_write(const AddRmsNormArgs& norm, const MatmulArgs& mm,
                                        const RopeKvWriteArgs& rk) override;
  void add_rmsnorm_matmul_swiglu(const AddRmsNormArgs& norm, const MatmulArgs& a, const Tensor& act) override;

 private:
  void mark(std::string label);  // an event after the op just enqueued

  cuda::CudaOps& inner_;
  cudaEvent_t start_ = nullptr;
  std::vector<cudaEvent_t> events_;       // reused across steps
  std::vector<std::string> labels_;       // this step's, one per event used
  std::map<std::string, OpTotal> totals_;
  int steps_ = 0;
};

}  // namespace gqa::bench
