// The CPU backend: the f32 reference implementation of gqa::Ops (OpenBLAS for the GEMMs).
// Memory is ordinary host memory; every op runs synchronously on the calling thread.
#pragma once

#include "kernels/ops.h"

namespace gqa::cpu {

class CpuOps final : public Ops {
 public:
  CpuOps();  // throws gqa::Error for a bad GQA_CPU_THREADS (cpu_threads), up front
  Device device() const override { return Device::kCpu; }
  DType compute_dtype() const override { return DType::kF32; }

  Tensor alloc(DType dtype, Shape shape) override;  // zero-filled host memory
  void upload_f32(const float* src, Tensor dst) override;
  void upload_i32(const int32_t* src, Tensor dst) override;
  void download_f32(const Tensor& src, float* dst) override;
  void synchronize() override {}
  void* stream() override { return nullptr; }

  void embedding(const EmbeddingArgs& a) override;
  void rmsnorm(const RmsNormArgs& a) override;
  void add_rmsnorm(const AddRmsNormArgs& a) override;
  void matmul(const MatmulArgs& a) override;
  void rope(const RopeArgs& a) override;
  void kv_write(const KvWriteArgs& a) override;
  void attention(const AttentionArgs& a) override;
  void swiglu(const SwigluArgs& a) override;
  void add(const Tensor& x, Tensor y) override;
  void rope_kv_write(const RopeKvWriteArgs& a) override;  // adds the packed form to the default
  std::vector<int32_t> sample_rows(const Tensor& logits, const SampleSpec& spec,
                                   const std::vector<double>& u) override;  // cpu::sample_row per row
  std::vector<float> top_k_rows(const Tensor& logits, int64_t k, float temperature) override;  // cpu::top_k_row
};

}  // namespace gqa::cpu
