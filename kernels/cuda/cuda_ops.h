// The CUDA backend: gqa::Ops on one GPU, in bf16 (default), f16 or f32.
//
// Owns a non-blocking stream (every op and copy is ordered on it; the Communicator gets it
// through stream()), and a cuBLASLt handle with its workspace for the GEMMs. Memory comes from
// cudaMalloc, zero-filled on the stream like the CPU backend's (so nothing ever reads
// uninitialised bytes, e.g. unused KV cache slots). Small uploads are staged through pinned
// memory and queued on the stream (the caller's buffer is free on return); large uploads and
// every download are synchronous.
#pragma once

#include <cuda_runtime.h>

#include <memory>

#include "kernels/cuda/gemm.h"
#include "kernels/cuda/graph_cache.h"
#include "kernels/cuda/pinned_staging.h"
#include "kernels/ops.h"

namespace gqa::cuda {

class CudaOps final : public Ops {
 public:
  // Selects `device` for this thread (cudaSetDevice) and creates the stream and cuBLASLt state.
  // compute: dtype of weights, activations and the KV cache (f32, f16 or bf16).
  explicit CudaOps(int device, DType compute = DType::kBF16);
  ~CudaOps() override;
  CudaOps(const CudaOps&) = delete;
  CudaOps& operator=(const CudaOps&) = delete;

  Device device() const override { return Device::kCuda; }
  DType compute_dtype() const override { return compute_; }
  int device_index() const { return device_; }

  Tensor alloc(DType dtype, Shape shape) override;
  void upload_f32(const float* src, Tensor dst) override;
  void upload_i32(const int32_t* src, Tensor dst) override;
  void download_f32(const Tensor& src, float* dst) override;
  void synchronize() override;
  void* stream() override { return stream_; }
  cudaStream_t cuda_stream() const { return stream_; }

  void embedding(const EmbeddingArgs& a) override;
  void rmsnorm(const RmsNormArgs& a) override;
  void matmul(const MatmulArgs& a) override;
  void rope(const RopeArgs& a) override;
  void kv_write(const KvWriteArgs& a) override;
  void attention(const AttentionArgs& a) override;
  void swiglu(const SwigluArgs& a) override;
  // One GEMV with a SwiGLU epilogue where gemv_swiglu serves it and fused_swiglu_enabled() (the
  // default, gemv.h); else the unfused pair.
  void matmul_swiglu(const MatmulArgs& a, const Tensor& act) override;
  // One GEMV with RoPE and the cache write in its epilogue where gemv_rope_kv_write serves it and
  // fused_rope_enabled() (the default, gemv_rope.h); else the unfused pair.
  void matmul_rope_kv_write(const MatmulArgs& mm, const RopeKvWriteArgs& rk) override;
  // Those two GEMVs with the norm before them as their prologue where fused_norm_enabled() (opt-in,
  // gemv.h) and gemv_norm_serves the call; else the norm's own kernel, then the op above.
  void add_rmsnorm_matmul_rope_kv_write(const AddRmsNormArgs& norm, const MatmulArgs& mm,
                                        const RopeKvWriteArgs& rk) override;
  void add_rmsnorm_matmul_swiglu(const AddRmsNormArgs& norm, const MatmulArgs& a, const Tensor& act) override;
  // The persistent MLP kernel (mlp_persistent.h) where mlp_persistent_enabled() and it serves, else
  // Ops' two calls.
  void add_rmsnorm_mlp(const AddRmsNormArgs& norm, const MatmulArgs& gate_up, const Tensor& act,
                       const MatmulArgs& down) override;
  void add(const Tensor& x, Tensor y) override;
  void add_rmsnorm(const AddRmsNormArgs& a) override;  // one kernel (rmsnorm.cu with residual)
  void prefetch_weights(const std::vector<Tensor>& weights) override;  // l2_prefetch.cu, when switched on
  void rope_kv_write(const RopeKvWriteArgs& a) override;  // one kernel (rope_kv_write.cu)
  // sampling.cu on the logits where they are (cuda_ops_sampling.cpp); f32 uniforms.
  std::vector<int32_t> sample_rows(const Tensor& logits, const SampleSpec& spec,
                                   const std::vector<double>& u) override;
  std::vector<float> top_k_rows(const Tensor& logits, int64_t k, float temperature) override;  // sampling.cu

  // Off under GQA_CUDA_SYNC_DEBUG (a synchronize per kernel cannot be recorded in a graph).
  bool supports_graphs() const override;
  void run_graph(const std::string& key, const std::function<void()>& record) override;
  void clear_graphs() override { graphs_.clear(); }
  // The graphs recorded since the last clear_graphs() with set_note_graph_shapes(true)
  // (GraphCache::recorded_shape: gqa-bench's aid, off by default).
  void set_note_graph_shapes(bool on) { graphs_.set_note_shapes(on); }
  GraphShape recorded_graphs() const { return graphs_.recorded_shape(); }

 private:
  // Whether the fused RoPE / SwiGLU GEMV serves these operands (switch, GEMV path and shapes).
  bool rope_gemv_serves(const MatmulArgs& mm, const RopeKvWriteArgs& rk) const;
  bool swiglu_gemv_serves(const MatmulArgs& a, const Tensor& act) const;

  static constexpr uint64_t kPoolKeepBytes = 64ull << 20;  // the default memory pool's release threshold
  int device_;
  DType compute_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<Gemm> gemm_;
  std::unique_ptr<PinnedStaging> staging_;  // small uploads, queued without a sync
  GraphCache graphs_;  // destroyed before the stream (declared after it)
  Tensor sample_ids_, sample_u_;  // sample_rows' i32 ids and f32 uniforms, grown as needed
  Tensor top_k_out_;              // top_k_rows' f32 rows, grown as needed
  // sample_rows' candidates per row for temperature / top-p over the whole vocabulary (the sort
  // runs only where a row's nucleus or draw reaches past them).
  static constexpr int kSampleCandidates = 256;
};

}  // namespace gqa::cuda
