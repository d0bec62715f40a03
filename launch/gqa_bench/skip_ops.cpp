#include "launch/gqa_bench/skip_ops.h"

#include <string>


namespace gqa::bench {

std::string skip_mask_name(unsigned skip) {
  if (skip == 0) return "full";
  static constexpr struct {
    unsigned bit;
    const char* name;
  } kKinds[] = {{kSkipAttention, "no attention"}, {kSkipNorms, "no norms"}, {kSkipGemvs, "no GEMVs"}};
  std::string out;
  for (const auto& k : kKinds) {
    if (skip & k.bit) out += (out.empty() ? "" : " + ") + std::string(k.name);
  }
  return out;
}

void SkipOps::matmul(const MatmulArgs& a) {
  if (!skips(kSkipGemvs)) inner_.matmul(a);
}
void SkipOps::attention(const AttentionArgs& a) {
  if (!skips(kSkipAttention)) inner_.attention(a);
}
void SkipOps::rmsnorm(const RmsNormArgs& a) {
  if (!skips(kSkipNorms)) inner_.rmsnorm(a);
}
void SkipOps::add_rmsnorm(const AddRmsNormArgs& a) {
  if (!skips(kSkipNorms)) inner_.add_rmsnorm(a);
}
void SkipOps::matmul_rope_kv_write(const MatmulArgs& mm, const RopeKvWriteArgs& rk) {
  if (!skips(kSkipGemvs)) inner_.matmul_rope_kv_write(mm, rk);
}
void SkipOps::matmul_swiglu(const MatmulArgs& a, const Tensor& act) {
  if (!skips(kSkipGemvs)) inner_.matmul_swiglu(a, act);
}
// The norm before a projection: to the backend whole (its fused norm prologue where
// GQA_FUSED_NORM=1 serves it) when neither kind is left out; else through this wrapper's own two
// ops (Ops' default: the norm, then the projection), so each kind is kept or left out on its own.
// (The backend's fallback for a call its prologue does not serve would call its own unfused ops,
// past this wrapper.) With GQA_FUSED_NORM=1 a kept kind then runs unfused.
void SkipOps::add_rmsnorm_matmul_rope_kv_write(const AddRmsNormArgs& norm, const MatmulArgs& mm,
                                               const RopeKvWriteArgs& rk) {
  if (skips(kSkipNorms) || skips(kSkipGemvs)) return Ops::add_rmsnorm_matmul_rope_kv_write(norm, mm, rk);
  inner_.add_rmsnorm_matmul_rope_kv_write(norm, mm, rk);
}
void SkipOps::add_rmsnorm_matmul_swiglu(const AddRmsNormArgs& norm, const MatmulArgs& a, const Tensor& act) {
  if (skips(kSkipNorms) || skips(kSkipGemvs)) return Ops::add_rmsnorm_matmul_swiglu(norm, a, act);
  inner_.add_rmsnorm_matmul_swiglu(norm, a, act);
}

}  // namespace gqa::bench
