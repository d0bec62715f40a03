// The persistent MLP kernel (kernels/cuda/mlp_persistent.h; opt-in GQA_MLP_PERSISTENT) against the
// CPU reference (CpuOps::add_rmsnorm_mlp: add + RMSNorm, the gate/up projection, SwiGLU, the down
// projection) on random inputs rounded to the dtype, bf16 and f16: the down output (written into
// the norm's residual buffer h, as in the model), act and x_out, n 1 and 2, hidden sizes from 8 to
// 8192 and FFN sizes from 8 to 3584 (the 70B T=8 shard's), more blocks than units of either phase
// and fewer. Outputs poisoned first; ||out - ref|| / ||ref|| < 1e-2, NaN never passes. Calls back
// to back (the grid barrier resets itself) and in a replayed CUDA graph; with the last block late at
// the grid barrier; CudaOps' dispatch on, off and for shapes the kernel does not serve; the refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/mlp_persistent.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/cuda/dtype_ops_test.h"

namespace gqa {
namespace {

using test::host_view;
using test::rel_error;

struct MlpCase {
  int64_t n, k, f;
};

std::string describe(const MlpCase& c) {
  return "n " + std::to_string(c.n) + " k " + std::to_string(c.k) + " f " + std::to_string(c.f);
}

class CudaMlpPersistent : public test::CudaDtypeOpsTest {
 protected:

  // One call's operands on both sides, from `seed`: the CPU side's results after construction.
  struct Call {
    MlpCase c;
    std::vector<float> y, act, x_out;  // CPU results: down output (in h), act, x + residual
    Tensor gx, gh, gnw, gx_out, gwgu, gwd, gact;
    AddRmsNormArgs norm() const { return {gx, gh, gnw, gh, kEps, gx_out}; }
    MatmulArgs gate_up(Tensor scratch) const { return {gh, gwgu, Tensor(), std::move(scratch)}; }
    MatmulArgs down() const { return {gact, gwd, Tensor(), gh}; }
  };
  Call make_call(const MlpCase& c, uint32_t seed) {
    Call m;
    m.c = c;
    // Weights scaled as a model's, by 1 / sqrt(fan-in) (uniform, unit variance out): with weights in
    // [-1, 1] the down output's true values pass f16's 65504 at n 2 k 4104 f 1000 (max |y| ~ 8e4)
    // and at k 4096 f 14336 (rms ~ 7e4), and the f16 cases compared an overflow rather than the
    // kernel (run 15's f16 failures).
    const float wgu_r = std::sqrt(3.0f / static_cast<float>(c.k)), wd_r = std::sqrt(3.0f / static_cast<float>(c.f));
    std::vector<float> x = input(c.n * c.k, seed), h = input(c.n * c.k, seed + 1),
                       nw = input(c.k, seed + 2, 0.5f, 1.5f), wgu = input(2 * c.f * c.k, seed + 3, -wgu_r, wgu_r),
                       wd = input(c.k * c.f, seed + 4, -wd_r, wd_r);
    std::vector<float> cpu_h = h, gate_up(c.n * 2 * c.f);
    m.act.assign(c.n * c.f, NAN);
    m.x_out.assign(c.n * c.k, NAN);
    const Shape s{c.n, c.k};
    AddRmsNormArgs cn{host_view(x, s), host_view(cpu_h, s), host_view(nw, {c.k}), host_view(cpu_h, s), kEps,
                      host_view(m.x_out, s)};
    cpu_.add_rmsnorm_mlp(cn, {host_view(cpu_h, s), host_view(wgu, {2 * c.f, c.k}), Tensor(),
                              host_view(gate_up, {c.n, 2 * c.f})},
                         host_view(m.act, {c.n, c.f}),
                         {host_view(m.act, {c.n, c.f}), host_view(wd, {c.k, c.f}), Tensor(), host_view(cpu_h, s)});
    m.y = cpu_h;
    m.gx = dev(x, s);
    m.gh = dev(h, s);
    m.gnw = dev(nw, {c.k});
    m.gx_out = test::poisoned(*gpu_, dt_, s);
    m.gwgu = dev(wgu, {2 * c.f, c.k});
    m.gwd = dev(wd, {c.k, c.f});
    m.gact = test::poisoned(*gpu_, dt_, {c.n, c.f});
    return m;
  }
  void expect_results(const Call& m, const std::string& what) {
    EXPECT_LT(rel_error(host(m.gh), m.y), kTol) << what << ": y (down output)";
    EXPECT_LT(rel_error(host(m.gact), m.act), kTol) << what << ": act";
    EXPECT_LT(rel_error(host(m.gx_out), m.x_out), kTol) << what << ": x_out";
  }
  // The kernel called directly on a fresh call's operands.
  void expect_kernel(const MlpCase& c, uint32_t seed) {
    Call m = make_call(c, seed);
    const Tensor scratch = gpu_->alloc(dt_, {c.n, 2 * c.f});
    ASSERT_TRUE(cuda::mlp_persistent_serves(m.norm(), m.gate_up(scratch), m.gact, m.down())) << describe(c);
    cuda::mlp_persistent(m.norm(), m.gate_up(scratch), m.gact, m.down(), stream());
    expect_results(m, describe(c));
  }

};

// Small and odd shapes (one chunk of k; f not a multiple of a unit's rows; fewer units than SMs, so
// some blocks have none of a phase), a mid size with more units than SMs, the 70B T=8 shard's MLP
// (k 8192, f 3584) at n 1 and 2 (6 and 5 stages), and Llama-3-8B's at n 1 (k 4096, f 14336: 3
// stages of 56 KB, the fewest the plan takes: each stage refilled two units behind its reader).
TEST_P(CudaMlpPersistent, MatchesReference) {
  uint32_t seed = 100;
  for (const MlpCase& c : {MlpCase{1, 8, 8}, MlpCase{2, 64, 40}, MlpCase{1, 1024, 344}, MlpCase{2, 4104, 1000},
                           MlpCase{1, 8192, 3584}, MlpCase{2, 8192, 3584}, MlpCase{1, 4096, 14336}}) {
    expect_kernel(c, seed += 10);
  }
}

// The grid barrier holds every block until the last has stored its act, and no block writes y (h)
// before the last has read h: the last block waits 200 us before it reads anything
// (set_mlp_persistent_late_block_ns), so a barrier that let the others through would have them
// read its act still poisoned (NaN) and overwrite the h it has yet to normalise, every time. Only
// shapes with more gate/up units than blocks, so that the last block owns act values others read
// (at 1 x 1024 x 344 the plan's 64 blocks share 43 units: the last one's lateness would show nowhere).
TEST_P(CudaMlpPersistent, LateBlockHoldsTheOthersAtTheBarrier) {
  struct LateBlock {
    LateBlock() { cuda::set_mlp_persistent_late_block_ns(200000); }
    ~LateBlock() { cuda::set_mlp_persistent_late_block_ns(0); }
  } late;
  uint32_t seed = 150;
  for (const MlpCase& c : {MlpCase{2, 4104, 1000}, MlpCase{1, 8192, 3584}, MlpCase{2, 8192, 3584}}) {
    expect_kernel(c, seed += 10);
  }
}

// Several calls in a row on one stream, each on other operands: the grid barrier's words must be
// back at rest after every call; and the same calls recorded in a CUDA graph replayed twice.
TEST_P(CudaMlpPersistent, BackToBackAndInAGraph) {
  const MlpCase c{1, 1024, 512};
  std::vector<Call> calls;
  for (uint32_t i = 0; i < 3; ++i) calls.push_back(make_call(c, 200 + 10 * i));
  const Tensor scratch = gpu_->alloc(dt_, {c.n, 2 * c.f});
  for (const Call& m : calls) cuda::mlp_persistent(m.norm(), m.gate_up(scratch), m.gact, m.down(), stream());
  for (size_t i = 0; i < calls.size(); ++i) expect_results(calls[i], "call " + std::to_string(i) + " of 3 in a row");

  std::vector<Call> graphed;
  for (uint32_t i = 0; i < 2; ++i) graphed.push_back(make_call(c, 300 + 10 * i));
  std::vector<Tensor> h0;  // each call's residual, put back into h before each replay (h is also y)
  for (const Call& m : graphed) {
    h0.push_back(gpu_->alloc(dt_, {c.n, c.k}));
    GQA_CUDA_CHECK(cudaMemcpyAsync(h0.back().data(), m.gh.data(), m.gh.nbytes(), cudaMemcpyDeviceToDevice, stream()));
  }
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  GQA_CUDA_CHECK(cudaStreamBeginCapture(stream(), cudaStreamCaptureModeThreadLocal));
  for (const Call& m : graphed) cuda::mlp_persistent(m.norm(), m.gate_up(scratch), m.gact, m.down(), stream());
  GQA_CUDA_CHECK(cudaStreamEndCapture(stream(), &graph));
  GQA_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  for (int replay = 0; replay < 2; ++replay) {
    // (each replay from the same inputs, its outputs poisoned again: all on the graph's stream)
    for (size_t i = 0; i < graphed.size(); ++i) {
      const Call& m = graphed[i];
      GQA_CUDA_CHECK(cudaMemcpyAsync(m.gh.data(), h0[i].data(), m.gh.nbytes(), cudaMemcpyDeviceToDevice, stream()));
      GQA_CUDA_CHECK(cudaMemsetAsync(m.gact.data(), 0xff, m.gact.nbytes(), stream()));
      GQA_CUDA_CHECK(cudaMemsetAsync(m.gx_out.data(), 0xff, m.gx_out.nbytes(), stream()));
    }
    GQA_CUDA_CHECK(cudaGraphLaunch(exec, stream()));
    GQA_CUDA_CHECK(cudaStreamSynchronize(stream()));
    for (size_t i = 0; i < graphed.size(); ++i) {
      expect_results(graphed[i], "graph replay " + std::to_string(replay) + ", call " + std::to_string(i));
    }
  }
  GQA_CUDA_CHECK(cudaGraphExecDestroy(exec));
  GQA_CUDA_CHECK(cudaGraphDestroy(graph));
}

// CudaOps::add_rmsnorm_mlp: the kernel with the switch on (the gate/up scratch stays poisoned),
// the unfused calls with it off (the scratch written: the fused SwiGLU GEMV, on by default, would
// not write it either, so it is off here), and the unfused calls for a shape the kernel does not
// serve (3 rows); the kernel's launch count moves exactly when it ran.
TEST_P(CudaMlpPersistent, DispatchAndFallback) {
  const cuda::ScopedSwitch unfused_swiglu(cuda::fused_swiglu_enabled, cuda::set_fused_swiglu, false);
  const auto run = [&](const MlpCase& c, uint32_t seed, bool expect_kernel_ran) {
    Call m = make_call(c, seed);
    const Tensor scratch = test::poisoned(*gpu_, dt_, {c.n, 2 * c.f});
    const int64_t launches = cuda::mlp_persistent_launches();
    gpu_->add_rmsnorm_mlp(m.norm(), m.gate_up(scratch), m.gact, m.down());
    expect_results(m, describe(c));
    EXPECT_EQ(cuda::mlp_persistent_launches() - launches, expect_kernel_ran ? 1 : 0) << describe(c);
    bool any_nan = false;
    for (float v : host(scratch)) any_nan = any_nan || std::isnan(v);
    EXPECT_EQ(any_nan, expect_kernel_ran) << describe(c) << ": the gate/up scratch "
                                          << (expect_kernel_ran ? "was written (the unfused calls ran?)"
                                                                : "kept poison (the kernel ran?)");
  };
  {
    const cuda::ScopedSwitch off(cuda::mlp_persistent_enabled, cuda::set_mlp_persistent, false);
    run({1, 1024, 256}, 400, false);
  }
  const cuda::ScopedSwitch on(cuda::mlp_persistent_enabled, cuda::set_mlp_persistent, true);
  run({1, 1024, 256}, 410, true);
  run({2, 1024, 256}, 420, true);
  run({3, 1024, 256}, 430, false);  // 3 rows
  run({2, 4096, 14336}, 440, false);  // Llama-3-8B's MLP at 2 rows: 2 stages fit (227 KB a block), under the minimum
}

TEST_P(CudaMlpPersistent, RefusesWhatItDoesNotServe) {
  const MlpCase c{1, 256, 64};
  Call m = make_call(c, 500);
  const Tensor scratch = gpu_->alloc(dt_, {c.n, 2 * c.f});
  const AddRmsNormArgs norm = m.norm();
  EXPECT_TRUE(cuda::mlp_persistent_serves(norm, m.gate_up(scratch), m.gact, m.down()));
  MatmulArgs biased = m.gate_up(scratch);
  biased.bias = gpu_->alloc(dt_, {2 * c.f});
  EXPECT_FALSE(cuda::mlp_persistent_serves(norm, biased, m.gact, m.down()));
  MatmulArgs other_x = m.down();
  other_x.x = gpu_->alloc(dt_, {c.n, c.f});  // down.x must be act
  EXPECT_FALSE(cuda::mlp_persistent_serves(norm, m.gate_up(scratch), m.gact, other_x));
  AddRmsNormArgs no_residual = norm;
  no_residual.residual = Tensor();
  no_residual.x_out = Tensor();
  EXPECT_FALSE(cuda::mlp_persistent_serves(no_residual, m.gate_up(scratch), m.gact, m.down()));
  MatmulArgs onto_x = m.down();
  onto_x.y = m.gx;  // y over the residual stream the norm reads
  EXPECT_FALSE(cuda::mlp_persistent_serves(norm, m.gate_up(scratch), m.gact, onto_x));
  AddRmsNormArgs x_out_on_w = norm;
  x_out_on_w.x_out = Tensor::view(m.gwd.data(), dt_, {c.n, c.k}, Device::kCuda);
  EXPECT_FALSE(cuda::mlp_persistent_serves(x_out_on_w, m.gate_up(scratch), m.gact, m.down()));
  EXPECT_THROW(cuda::mlp_persistent(norm, biased, m.gact, m.down(), stream()), Error);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaMlpPersistent, ::testing::Values(DType::kBF16, DType::kF16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace gqa
