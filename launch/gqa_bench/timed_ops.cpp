#include "launch/gqa_bench/timed_ops.h"

#include "kernels/cuda/gemv.h"

#include "kernels/cuda/cuda_check.h"
#include "launch/gqa_bench/bench_env.h"

namespace gqa::bench {
namespace {

// "matmul [m x k]": the weight's shape tells the projection apart (QKV, O, gate/up, down, LM head).
std::string weight_label(const char* op, const Tensor& w) {
  return strf("%s [%lld x %lld]", op, (long long)w.dim(0), (long long)w.dim(1));
}

}  // namespace

TimedOps::TimedOps(cuda::CudaOps& inner) : ForwardingOps(inner) { GQA_CUDA_CHECK(cudaEventCreate(&start_)); }

TimedOps::~TimedOps() {
  // (teardown: statuses ignored, a destructor must not throw)
  cudaEventDestroy(start_);
  for (cudaEvent_t e : events_) cudaEventDestroy(e);
}

void TimedOps::begin_step() {
  labels_.clear();
  GQA_CUDA_CHECK(cudaEventRecord(start_, static_cast<cudaStream_t>(inner_.stream())));
}

void TimedOps::mark(std::string label) {
  if (labels_.size() == events_.size()) {
    cudaEvent_t e = nullptr;
    GQA_CUDA_CHECK(cudaEventCreate(&e));
    events_.push_back(e);
  }
  GQA_CUDA_CHECK(cudaEventRecord(events_[labels_.size()], static_cast<cudaStream_t>(inner_.stream())));
  labels_.push_back(std::move(label));
}

void TimedOps::end_step() {
  // (Model::forward has returned: its logits are on the host; this interval holds that copy and
  // the host's work after the last op, so that the rows add up to the step)
  mark("logits to host (and the host after the last op)");
  inner_.synchronize();
  cudaEvent_t prev = start_;
  for (size_t i = 0; i < labels_.size(); ++i) {
    float ms = 0;
    GQA_CUDA_CHECK(cudaEventElapsedTime(&ms, prev, events_[i]));
    OpTotal& t = totals_[labels_[i]];
    t.us += 1e3 * ms;
    ++t.calls;
    prev = events_[i];
  }
  ++steps_;
}

void TimedOps::embedding(const EmbeddingArgs& a) {
  inner_.embedding(a);
  mark("step inputs + embedding");  // (from begin_step: the host's checks and uploads come first)
}
void TimedOps::rmsnorm(const RmsNormArgs& a) {
  inner_.rmsnorm(a);
  mark("rmsnorm");
}
void TimedOps::matmul(const MatmulArgs& a) {
  inner_.matmul(a);
  mark(weight_label("GEMM", a.w));
}
void TimedOps::rope(const RopeArgs& a) {
  inner_.rope(a);
  mark("rope");
}
void TimedOps::kv_write(const KvWriteArgs& a) {
  inner_.kv_write(a);
  mark("kv_write");
}
void TimedOps::attention(const AttentionArgs& a) {
  inner_.attention(a);
  mark("attention (+ split merge)");
}
void TimedOps::swiglu(const SwigluArgs& a) {
  inner_.swiglu(a);
  mark("swiglu");
}
void TimedOps::add(const Tensor& x, Tensor y) {
  inner_.add(x, y);
  mark("add");
}
void TimedOps::add_rmsnorm(const AddRmsNormArgs& a) {
  inner_.add_rmsnorm(a);
  mark("add + rmsnorm");
}
void TimedOps::rope_kv_write(const RopeKvWriteArgs& a) {
  inner_.rope_kv_write(a);
  mark("rope + kv_write");
}
// The fused ops go to the backend as one call (its own choice of fused kernel or unfused pair):
// one label each.
void TimedOps::matmul_rope_kv_write(const MatmulArgs& mm, const RopeKvWriteArgs& rk) {
  inner_.matmul_rope_kv_write(mm, rk);
  mark(weight_label("QKV GEMM + rope + kv_write", mm.w));
}
void TimedOps::matmul_swiglu(const MatmulArgs& a, const Tensor& act) {
  inner_.matmul_swiglu(a, act);
  mark(weight_label("gate/up GEMM + swiglu", a.w));
}
// The norm before a projection: its own label (Ops' default calls the two ops above) unless the
// backend may fuse it into the GEMV (GQA_FUSED_NORM=1): then one label for the pair.
void TimedOps::add_rmsnorm_matmul_rope_kv_write(const AddRmsNormArgs& norm, const MatmulArgs& mm,
                                                const RopeKvWriteArgs& rk) {
  if (!cuda::fused_norm_enabled()) return Ops::add_rmsnorm_matmul_rope_kv_write(norm, mm, rk);
  inner_.add_rmsnorm_matmul_rope_kv_write(norm, mm, rk);
  mark(weight_label("norm + QKV GEMM + rope + kv_write", mm.w));
}
void TimedOps::add_rmsnorm_matmul_swiglu(const AddRmsNormArgs& norm, const MatmulArgs& a, const Tensor& act) {
  if (!cuda::fused_norm_enabled()) return Ops::add_rmsnorm_matmul_swiglu(norm, a, act);
  inner_.add_rmsnorm_matmul_swiglu(norm, a, act);
  mark(weight_label("norm + gate/up GEMM + swiglu", a.w));
}

}  // namespace gqa::bench
