// The decode GEMVs' fused add + RMSNorm (kernels/cuda/gemv.h: gemv_norm_supported; opt-in
// GQA_FUSED_NORM), the prologue in each build that runs it: the per-thread build (with its own
// plan, and at every forced warp count) and the ring build, against the CPU reference (CpuOps:
// add_rmsnorm, then the projection) on random inputs rounded to the dtype, bf16 and f16: the
// SwiGLU GEMV (act) and the QKV GEMV with RoPE and the cache write (q and the step's cache rows;
// every other cache row bit for bit unchanged), n from 1 to 4, k from one chunk to 8192, with a
// residual (x_out checked too) and without one (a plain RMSNorm). Outputs poisoned first;
// ||out - ref|| / ||ref|| < 1e-2, NaN never passes. The fused path never writes norm.out (the
// model's h, which is also the residual): checking that it kept its content shows the prologue
// ran, not the unfused fallback. Then CudaOps' dispatch (on, off, and the fallback for a shape the
// prologue does not serve) and the refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/gemv_rope.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/cuda/dtype_ops_test.h"

namespace gqa {
namespace {

using test::host_view;
using test::rel_error;

// The norm's operands on both sides. With a residual, out is the residual's buffer (h), as in the
// model; without one, out is a buffer of its own.
struct NormCase {
  int64_t n, k;
  bool residual;
};

std::string describe(const NormCase& c) {
  return "n " + std::to_string(c.n) + " k " + std::to_string(c.k) + (c.residual ? " residual" : " plain");
}

class CudaGemvNorm : public test::CudaDtypeOpsTest {
 protected:

  struct Norm {
    std::vector<float> x, residual, weight, h, x_out;  // host: the CPU side's storage
    Tensor gx, gres, gw, gh, gx_out;                  // device
    float eps = kEps;
    AddRmsNormArgs cpu(const NormCase& c) {
      const Shape s{c.n, c.k};
      AddRmsNormArgs a{host_view(x, s), Tensor(), host_view(weight, {c.k}), host_view(h, s), eps};
      if (c.residual) {
        a.residual = a.out;  // h holds the block output and receives the norm
        a.x_out = host_view(x_out, s);
      }
      return a;
    }
    AddRmsNormArgs gpu() const { return {gx, gres, gw, gh, eps, gx_out}; }
  };
  Norm make_norm(const NormCase& c, uint32_t seed) {
    Norm m;
    m.x = input(c.n * c.k, seed);
    m.weight = input(c.k, seed + 1, 0.5f, 1.5f);
    m.h = input(c.n * c.k, seed + 2);  // the residual, or what an unwritten out keeps
    m.x_out.assign(c.n * c.k, NAN);
    m.gx = dev(m.x, {c.n, c.k});
    m.gw = dev(m.weight, {c.k});
    m.gh = dev(m.h, {c.n, c.k});
    if (c.residual) {
      m.residual = m.h;
      m.gres = m.gh;
      m.gx_out = test::poisoned(*gpu_, dt_, {c.n, c.k});
    }
    return m;
  }
  // x_out against the CPU's; out (the GPU's h) untouched after the prologue, written by the pair.
  void expect_norm_side(const NormCase& c, const Norm& cpu_side, const Norm& gpu_side, const std::vector<float>& h0,
                        bool prologue = true) {
    if (c.residual) {
      EXPECT_LT(rel_error(host(gpu_side.gx_out), cpu_side.x_out), kTol) << describe(c) << ": x_out";
    }
    if (prologue) {
      EXPECT_EQ(host(gpu_side.gh), h0) << describe(c) << ": norm.out was written (the unfused pair ran?)";
    } else {
      EXPECT_NE(host(gpu_side.gh), h0) << describe(c) << ": norm.out was not written (the prologue ran?)";
    }
  }

  // The SwiGLU GEMV with the prologue called directly, or CudaOps' dispatch under the caller's
  // switch, which must take the prologue or the unfused pair.
  enum class Via { kKernel, kOpsPrologue, kOpsPair };
  void expect_swiglu(const NormCase& c, int64_t f, uint32_t seed, Via via = Via::kKernel) {
    Norm ref = make_norm(c, seed), got = make_norm(c, seed);
    const std::vector<float> h0 = got.h;
    std::vector<float> w = input(2 * f * c.k, seed + 5), gate_up(c.n * 2 * f), act(c.n * f);
    cpu_.add_rmsnorm_matmul_swiglu(ref.cpu(c), {host_view(ref.h, {c.n, c.k}), host_view(w, {2 * f, c.k}), Tensor(),
                                                host_view(gate_up, {c.n, 2 * f})},
                                   host_view(act, {c.n, f}));
    Tensor gw = dev(w, {2 * f, c.k}), gact = test::poisoned(*gpu_, dt_, {c.n, f});
    if (via == Via::kKernel) {
      const AddRmsNormArgs norm = got.gpu();
      ASSERT_TRUE(cuda::gemv_norm_supported(norm, got.gh)) << describe(c);
      cuda::gemv_swiglu(got.gh, gw, gact, stream(), &norm);
    } else {
      gpu_->add_rmsnorm_matmul_swiglu(got.gpu(), {got.gh, gw, Tensor(), gpu_->alloc(dt_, {c.n, 2 * f})}, gact);
    }
    EXPECT_LT(rel_error(host(gact), act), kTol) << describe(c) << " f " << f << ": act";
    expect_norm_side(c, ref, got, h0, via != Via::kOpsPair);
  }

  // The QKV GEMV with RoPE, the cache write and the prologue (direct call): q and the cache
  // against the CPU's packed rope_kv_write after its add_rmsnorm and matmul.
  void expect_rope(const NormCase& c, int64_t hq, int64_t hkv, int64_t hd, bool bias, uint32_t seed) {
    constexpr int64_t kSlots = 64;
    const int64_t m = (hq + 2 * hkv) * hd, row = hkv * hd;
    const std::string what = describe(c) + " hq " + std::to_string(hq) + " hkv " + std::to_string(hkv) + " hd " +
                             std::to_string(hd) + (bias ? " bias" : "");
    Norm ref = make_norm(c, seed), got = make_norm(c, seed);
    const std::vector<float> h0 = got.h;
    std::vector<float> w = input(m * c.k, seed + 5), b = input(m, seed + 6), qkv(c.n * m), q(c.n * hq * hd, NAN);
    std::vector<int32_t> slots(c.n), pos(c.n);
    for (int64_t i = 0; i < c.n; ++i) {
      slots[i] = static_cast<int32_t>((i * 37 + seed) % kSlots);  // distinct: 37 is prime to 64
      pos[i] = static_cast<int32_t>(1000 * i + seed % 997);
    }
    std::vector<float> k_cache = input(kSlots * row, seed + 7), v_cache = input(kSlots * row, seed + 8);
    for (int32_t s : slots) {
      std::fill_n(k_cache.begin() + s * row, row, NAN);
      std::fill_n(v_cache.begin() + s * row, row, NAN);
    }
    std::vector<float> inv(hd / 2);
    for (int64_t i = 0; i < hd / 2; ++i) inv[i] = std::pow(10000.0f, -2.0f * static_cast<float>(i) / hd);
    const std::vector<float> k0 = k_cache, v0 = v_cache;
    const Shape cache_shape{kSlots, 1, hkv, hd};

    RopeKvWriteArgs rk{host_view(q, {c.n, hq, hd}), Tensor(), Tensor(), host_view(k_cache, cache_shape),
                       host_view(v_cache, cache_shape), test::host_view_i32(slots, {c.n}),
                       test::host_view_i32(pos, {c.n}), host_view(inv, {hd / 2}), 1.0f};
    rk.qkv = host_view(qkv, {c.n, m});
    cpu_.add_rmsnorm_matmul_rope_kv_write(
        ref.cpu(c), {host_view(ref.h, {c.n, c.k}), host_view(w, {m, c.k}), bias ? host_view(b, {m}) : Tensor(), rk.qkv},
        rk);

    RopeKvWriteArgs grk{dev(std::vector<float>(c.n * hq * hd, NAN), {c.n, hq, hd}), Tensor(), Tensor(),
                        dev(k0, cache_shape), dev(v0, cache_shape), test::to_device_i32(*gpu_, slots, {c.n}),
                        test::to_device_i32(*gpu_, pos, {c.n}), gpu_->alloc(DType::kF32, {hd / 2}), 1.0f};
    gpu_->upload_f32(inv.data(), grk.inv_freq);
    grk.qkv = gpu_->alloc(dt_, {c.n, m});
    const MatmulArgs mm{got.gh, dev(w, {m, c.k}), bias ? dev(b, {m}) : Tensor(), grk.qkv};
    const AddRmsNormArgs norm = got.gpu();
    ASSERT_TRUE(cuda::gemv_rope_kv_write_supported(mm, grk)) << what;
    ASSERT_TRUE(cuda::gemv_norm_supported(norm, mm.x)) << what;
    cuda::gemv_rope_kv_write(mm, grk, stream(), &norm);

    EXPECT_LT(rel_error(host(grk.q), q), kTol) << what << ": q";
    for (const auto& [name, gcache, cache, old] :
         {std::tuple{"k_cache", grk.k_cache, k_cache, k0}, std::tuple{"v_cache", grk.v_cache, v_cache, v0}}) {
      const std::vector<float> got_cache = host(gcache);
      std::vector<float> written_got, written_ref;
      size_t changed = 0;
      for (int64_t s = 0; s < kSlots; ++s) {
        const bool in_step = std::find(slots.begin(), slots.end(), s) != slots.end();
        for (int64_t e = 0; e < row; ++e) {
          if (in_step) {
            written_got.push_back(got_cache[s * row + e]);
            written_ref.push_back(cache[s * row + e]);
          } else {
            changed += !(got_cache[s * row + e] == old[s * row + e]);
          }
        }
      }
      EXPECT_LT(rel_error(written_got, written_ref), kTol) << what << ": " << name << " rows of the step";
      EXPECT_EQ(changed, 0u) << what << ": " << name << " rows outside the step changed";
    }
    expect_norm_side(c, ref, got, h0);
  }

};

// Up to 4 rows (4 rows of 8192: kGemvNormMaxBytes); f not a multiple of a block's outputs; and the
// 70B T=8 shard's gate/up GEMV at batch 1 (f = 3584).
TEST_P(CudaGemvNorm, SwigluMatchesReference) {
  uint32_t seed = 100;
  for (const NormCase& c : {NormCase{1, 8, true}, NormCase{1, 4104, true}, NormCase{2, 4104, false},
                            NormCase{3, 4104, false}, NormCase{3, 8192, true}, NormCase{4, 8192, true},
                            NormCase{4, 64, false}, NormCase{1, 8192, false}, NormCase{4, 4104, true}}) {
    for (int64_t f : {37, 1000}) {
      expect_swiglu(c, f, seed);
      seed += 10;
    }
  }
  expect_swiglu({1, 8192, true}, 3584, seed);
}

TEST_P(CudaGemvNorm, RopeMatchesReference) {
  uint32_t seed = 200;
  expect_rope({1, 8192, true}, 8, 1, 128, false, seed += 10);
  expect_rope({1, 4104, false}, 8, 2, 64, true, seed += 10);
  expect_rope({2, 256, true}, 4, 4, 64, true, seed += 10);
  expect_rope({3, 8192, true}, 8, 1, 128, false, seed += 10);
  expect_rope({4, 1024, true}, 2, 1, 16, false, seed += 10);
  expect_rope({3, 1024, true}, 4, 2, 64, true, seed += 10);
}

// Every warp count the benchmarks' tuning can force (the deep step is not built with the prologue:
// asking for it must still give the prologue's launch).
TEST_P(CudaGemvNorm, EveryTunedLaunchMatches) {
  uint32_t seed = 300;
  for (int g : {1, 2, 4, 8}) {
    for (bool deep : {false, true}) {
      const cuda::ScopedGemvTuning tune({g, deep});
      SCOPED_TRACE("group_warps " + std::to_string(g) + (deep ? " deep" : ""));
      expect_swiglu({2, 4104, true}, 300, seed += 10);
    }
  }
}

// The opt-in ring build with the prologue (GemvTuning::ring: each resident block normalises x once
// for all its units), SwiGLU and RoPE epilogues, on the shapes above.
TEST_P(CudaGemvNorm, RingBuildMatches) {
  const cuda::GemvTuning ring{.ring = true};
  const cuda::ScopedGemvTuning tune(ring);
  uint32_t seed = 600;
  expect_swiglu({1, 8192, true}, 3584, seed += 10);
  expect_swiglu({2, 4104, false}, 300, seed += 10);
  expect_swiglu({4, 1024, true}, 129, seed += 10);
  expect_rope({1, 8192, true}, 8, 1, 128, false, seed += 10);
  expect_rope({3, 8192, true}, 8, 1, 128, false, seed += 10);
}

// CudaOps: with the switch on the prologue runs (out untouched), off the unfused pair runs, and a
// shape the prologue does not serve (5 rows; 4 rows of 8192) falls back to the pair.
TEST_P(CudaGemvNorm, DispatchAndFallback) {
  {
    const cuda::ScopedSwitch off(cuda::fused_norm_enabled, cuda::set_fused_norm, false);
    expect_swiglu({2, 1024, true}, 100, 400, Via::kOpsPair);
  }
  const cuda::ScopedSwitch on(cuda::fused_norm_enabled, cuda::set_fused_norm, true);
  expect_swiglu({2, 1024, true}, 100, 410, Via::kOpsPrologue);
  expect_swiglu({1, 1024, false}, 100, 420, Via::kOpsPrologue);
  expect_swiglu({5, 1024, true}, 100, 430, Via::kOpsPair);  // 5 rows
  expect_swiglu({4, 8200, true}, 100, 440, Via::kOpsPair);  // above 64 KiB of rows
}

TEST_P(CudaGemvNorm, RefusesWhatItDoesNotServe) {  // (the tuning's refusals: host_test_gemv_tuning.cpp)
  const NormCase c{2, 256, true};
  Norm m = make_norm(c, 500);
  const AddRmsNormArgs ok = m.gpu();
  EXPECT_TRUE(cuda::gemv_norm_supported(ok, m.gh));
  AddRmsNormArgs in_place = ok;
  in_place.x_out = Tensor();  // a residual needs x_out: every block reads the old x
  EXPECT_FALSE(cuda::gemv_norm_supported(in_place, m.gh));
  AddRmsNormArgs onto_x = ok;
  onto_x.x_out = m.gx;  // x_out overlapping x
  EXPECT_FALSE(cuda::gemv_norm_supported(onto_x, m.gh));
  AddRmsNormArgs other_out = ok;
  other_out.out = gpu_->alloc(dt_, {c.n, c.k});  // out must be the GEMV's input
  EXPECT_FALSE(cuda::gemv_norm_supported(other_out, m.gh));
  AddRmsNormArgs short_weight = ok;
  short_weight.weight = m.gw.slice_rows(0, c.k - 8);
  EXPECT_FALSE(cuda::gemv_norm_supported(short_weight, m.gh));
  AddRmsNormArgs plain_with_out = ok;
  plain_with_out.residual = Tensor();  // x_out without a residual
  EXPECT_FALSE(cuda::gemv_norm_supported(plain_with_out, m.gh));
  // The GEMV's output overlapping the norm's input.
  Tensor w = dev(input(2 * 16 * c.k, 1), {32, c.k});
  EXPECT_THROW(cuda::gemv_swiglu(m.gh, w, Tensor::view(m.gx_out.data(), dt_, {c.n, 16}, Device::kCuda), stream(), &ok),
               Error);
  EXPECT_THROW(cuda::gemv_swiglu(m.gh, w, Tensor::view(m.gx.data(), dt_, {c.n, 16}, Device::kCuda), stream(), &ok),
               Error);
  // The whole call (gemv_norm_serves): what block 0 writes (x_out) against what other blocks read
  // (the GEMV's input, W, the epilogue's inputs), and the outputs against the norm weight.
  const Tensor act = gpu_->alloc(dt_, {c.n, 16});
  EXPECT_TRUE(cuda::gemv_norm_serves(ok, m.gh, w, {act}, {}));
  EXPECT_FALSE(cuda::gemv_norm_serves(ok, m.gh, m.gx_out, {act}, {}));       // x_out is W
  EXPECT_FALSE(cuda::gemv_norm_serves(ok, m.gh, w, {act}, {m.gx_out}));      // x_out is an epilogue input
  EXPECT_FALSE(cuda::gemv_norm_serves(ok, m.gh, w, {m.gw}, {}));             // an output is the norm weight
  EXPECT_THROW(cuda::gemv_swiglu(m.gh, w, Tensor::view(m.gw.data(), dt_, {c.n, 16}, Device::kCuda), stream(), &ok),
               Error);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaGemvNorm, ::testing::Values(DType::kBF16, DType::kF16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace gqa
