// gqa-bench's decode-step ablation: an Ops that forwards every call to the CUDA backend except the
// kinds of op a mask leaves out (no kernel launched: their outputs keep whatever they held), so a
// real step (CUDA graph, PDL) timed with and without them says what each kind costs inside the
// step, overlaps included, which per-op timings (each op alone) and the op-by-op events (which cut
// PDL) cannot. A timing aid: the tokens of such a step mean nothing.
#pragma once

#include "launch/gqa_bench/forwarding_ops.h"

namespace gqa::bench {

enum : unsigned {
  kSkipAttention = 1,  // the decode attention (and its split merge)
  kSkipNorms = 2,      // the RMSNorms and the residual adds fused with them
  kSkipGemvs = 4,      // every weight GEMV (QKV with RoPE + KV write, O, gate/up with SwiGLU, down, LM head)
};

// "no attention + no norms" for a mask; "full" for 0.
std::string skip_mask_name(unsigned skip);

class SkipOps : public ForwardingOps {
 public:
  SkipOps(cuda::CudaOps& inner, unsigned skip) : ForwardingOps(inner), skip_(skip) {}

  void matmul(const MatmulArgs& a) override;
  void attention(const AttentionArgs& a) override;
  void rmsnorm(const RmsNormArgs& a) override;
  void add_rmsnorm(const AddRmsNormArgs& a) override;
  void matmul_rope_kv_write(const MatmulArgs& mm, const RopeKvWriteArgs& rk) override;
  void matmul_swiglu(const MatmulArgs& a, const Tensor& act) override;
  void add_rmsnorm_matmul_rope_kv_write(const AddRmsNormArgs& norm, const MatmulArgs& mm,
                                        const RopeKvWriteArgs& rk) override;
  void add_rmsnorm_matmul_swiglu(const AddRmsNormArgs& norm, const MatmulArgs& a, const Tensor& act) override;

 private:
  bool skips(unsigned kind) const { return (skip_ & kind) != 0; }
  unsigned skip_;
};

}  // namespace gqa::bench
