// gqa-bench's in-step breakdown: an Ops that forwards every call to the CUDA backend and records
// a CUDA event after each compute op, so one decode step run op by op (no CUDA graph) splits into
// per-op times measured inside real steps (the L2 as a step leaves it, every launch gap included
// in the op after it). The events between kernels also cut programmatic dependent launch's
// overlap, so the sum is a step with PDL off, op by op.
#pragma once

#include <cuda_runtime.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_ops.h"
#include "launch/gqa_bench/forwarding_ops.h"

namespace gqa::bench {

class TimedOps : public ForwardingOps {
 public:
  explicit TimedOps(cuda::CudaOps& inner);
  ~TimedOps() override;
  TimedOps(const TimedOps&) = delete;
  TimedOps& operator=(const TimedOps&) = delete;

  // Marks the start of a step on the stream (the first op is timed from here: its row, "step
  // inputs + embedding", holds the host's checks and uploads before the embedding too).
  void begin_step();
  // After Model::forward has returned: marks "logits to host" (the copy and the host's work after
  // the last op), waits for the step and adds each op's microseconds to its label's total.
  void end_step();
  struct OpTotal {
    double us = 0;     // summed over the steps
    int64_t calls = 0;
  };
  const std::map<std::string, OpTotal>& totals() const { return totals_; }
  int steps() const { return steps_; }

  // Op by op: no graphs (an event after each op). prefetch_weights is forwarded without an event
  // of its own: where CudaOps launches it (GQA_L2_PREFETCH=1 with PDL on), its time falls into the
  // next op's, the attention's.
  bool supports_graphs() const override { return false; }
  void run_graph(const std::string& key, const std::function<void()>& record) override {
    (void)key;
    record();
  }
  void clear_graphs() override {}

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

  cudaEvent_t start_ = nullptr;
  std::vector<cudaEvent_t> events_;       // reused across steps
  std::vector<std::string> labels_;       // this step's, one per event used
  std::map<std::string, OpTotal> totals_;
  int steps_ = 0;
};

}  // namespace gqa::bench
