// An Ops that forwards every call to the CUDA backend: the base of gqa-bench's wrappers that run a
// real decode step with something changed around its ops (TimedOps: an event after each op;
// SkipOps: some ops left out). A wrapper overrides the ops it changes and inherits the rest.
// Ops::add_rmsnorm_mlp is not forwarded: under a wrapper the MLP half is always its two calls (the
// norm + gate/up, then down), which the wrapper times or leaves out, so GQA_MLP_PERSISTENT's kernel
// never runs in the per-op-in-step and ablation tables (only in whole steps on the CudaOps).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cuda/cuda_ops.h"

namespace gqa::bench {

class ForwardingOps : public Ops {
 public:
  explicit ForwardingOps(cuda::CudaOps& inner) : inner_(inner) {}

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
  void prefetch_weights(const std::vector<Tensor>& weights) override { inner_.prefetch_weights(weights); }
  bool supports_graphs() const override { return inner_.supports_graphs(); }
  void run_graph(const std::string& key, const std::function<void()>& record) override { inner_.run_graph(key, record); }
  void clear_graphs() override { inner_.clear_graphs(); }

  void embedding(const EmbeddingArgs& a) override { inner_.embedding(a); }
  void rmsnorm(const RmsNormArgs& a) override { inner_.rmsnorm(a); }
  void matmul(const MatmulArgs& a) override { inner_.matmul(a); }
  void rope(const RopeArgs& a) override { inner_.rope(a); }
  void kv_write(const KvWriteArgs& a) override { inner_.kv_write(a); }
  void attention(const AttentionArgs& a) override { inner_.attention(a); }
  void swiglu(const SwigluArgs& a) override { inner_.swiglu(a); }
  void add(const Tensor& x, Tensor y) override { inner_.add(x, y); }
  void add_rmsnorm(const AddRmsNormArgs& a) override { inner_.add_rmsnorm(a); }
  void rope_kv_write(const RopeKvWriteArgs& a) override { inner_.rope_kv_write(a); }
  void matmul_rope_kv_write(const MatmulArgs& mm, const RopeKvWriteArgs& rk) override {
    inner_.matmul_rope_kv_write(mm, rk);
  }
  void matmul_swiglu(const MatmulArgs& a, const Tensor& act) override { inner_.matmul_swiglu(a, act); }
  void add_rmsnorm_matmul_rope_kv_write(const AddRmsNormArgs& norm, const MatmulArgs& mm,
                                        const RopeKvWriteArgs& rk) override {
    inner_.add_rmsnorm_matmul_rope_kv_write(norm, mm, rk);
  }
  void add_rmsnorm_matmul_swiglu(const AddRmsNormArgs& norm, const MatmulArgs& a, const Tensor& act) override {
    inner_.add_rmsnorm_matmul_swiglu(norm, a, act);
  }

 protected:
  cuda::CudaOps& inner_;
};

}  // namespace gqa::bench
