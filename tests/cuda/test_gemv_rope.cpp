// The QKV GEMV with RoPE and the KV-cache write in its epilogue (kernels/cuda/gemv_rope.h)
// against the unfused GPU path it replaces (Gemm::run into qkv, then the packed rope_kv_write,
// both checked against the CPU twins in their own tests), bf16 and f16: MHA, GQA and MQA head
// counts, head dims 16, 64 and 128, with and without the q/k/v bias, attention scaling 1 and 1.3,
// decode batches 1, 2, 3 and 8 over shuffled cache slots and positions up to 100000. The rotated
// q and the written cache rows: ||out - ref|| / ||ref|| < 1e-2 (outputs poisoned first; NaN never
// passes); every other cache row must keep its old content bit for bit. Then the dispatcher
// (CudaOps::matmul_rope_kv_write with the opt-in switch), the bulk-copy build and the refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/gemv_rope.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/cuda/dtype_ops_test.h"
#include "tests/cuda/gemv_test_util.h"

namespace gqa {
namespace {

using test::rel_error;

struct Case {
  int64_t hq, hkv, hd, n;
  bool bias;
  float scaling;
  int64_t hidden = 256;  // K of the GEMV: 4104 / 8192 take several warps per row group and full steps
};

constexpr int64_t kHidden = 256, kBlocks = 8, kBlockSize = 16;

class CudaGemvRope : public test::CudaDtypeOpsTest {
 protected:
  // Everything one call needs, with q and both caches freshly uploaded (cache rows at the step's
  // slots poisoned: they must all be written).
  struct Call {
    Tensor x, w, b, qkv, q, k_cache, v_cache, slots, positions, inv_freq;
    MatmulArgs mm() const { return {x, w, b, qkv}; }
    RopeKvWriteArgs rk(float scaling) const {
      RopeKvWriteArgs a{q, Tensor(), Tensor(), k_cache, v_cache, slots, positions, inv_freq, scaling};
      a.qkv = qkv;
      return a;
    }
  };
  Call make_call(const Case& c, uint32_t seed, const std::vector<int32_t>& slots, const std::vector<int32_t>& pos) {
    const int64_t m = (c.hq + 2 * c.hkv) * c.hd, row = c.hkv * c.hd;
    std::vector<float> cache_k = input(kBlocks * kBlockSize * row, seed + 3), cache_v = input(kBlocks * kBlockSize * row, seed + 4);
    for (int32_t s : slots) {
      std::fill_n(cache_k.begin() + s * row, row, NAN);
      std::fill_n(cache_v.begin() + s * row, row, NAN);
    }
    std::vector<float> inv(c.hd / 2);
    for (int64_t i = 0; i < c.hd / 2; ++i) inv[i] = std::pow(10000.0f, -2.0f * i / c.hd);
    Call k;
    k.x = dev(input(c.n * c.hidden, seed), {c.n, c.hidden});
    k.w = dev(input(m * c.hidden, seed + 1), {m, c.hidden});
    if (c.bias) k.b = dev(input(m, seed + 2), {m});
    k.qkv = gpu_->alloc(dt_, {c.n, m});
    k.q = dev(std::vector<float>(c.n * c.hq * c.hd, NAN), {c.n, c.hq, c.hd});
    k.k_cache = dev(cache_k, {kBlocks, kBlockSize, c.hkv, c.hd});
    k.v_cache = dev(cache_v, {kBlocks, kBlockSize, c.hkv, c.hd});
    k.slots = test::to_device_i32(*gpu_, slots, {c.n});
    k.positions = test::to_device_i32(*gpu_, pos, {c.n});
    k.inv_freq = gpu_->alloc(DType::kF32, {c.hd / 2});
    gpu_->upload_f32(inv.data(), k.inv_freq);
    return k;
  }

  // The fused call against the unfused one on the same inputs.
  // tune: the fused call's launch forced (gemv.h's benchmark tuning; the reference keeps the plan).
  void expect_same(const Case& c, uint32_t seed, bool via_dispatcher = false, cuda::GemvTuning tune = {}) {
    std::mt19937 rng(seed);
    std::vector<int32_t> slots(kBlocks * kBlockSize), pos(c.n);
    std::iota(slots.begin(), slots.end(), 0);
    std::shuffle(slots.begin(), slots.end(), rng);
    slots.resize(c.n);
    std::uniform_int_distribution<int32_t> p(0, 100000);
    for (auto& x : pos) x = p(rng);
    const std::string what = "hidden " + std::to_string(c.hidden) + " hq " + std::to_string(c.hq) + " hkv " + std::to_string(c.hkv) + " hd " +
                             std::to_string(c.hd) + " n " + std::to_string(c.n) + (c.bias ? " bias" : "") +
                             " scaling " + std::to_string(c.scaling);
    const Call ref = make_call(c, seed, slots, pos), got = make_call(c, seed, slots, pos);
    gpu_->matmul(ref.mm());
    gpu_->rope_kv_write(ref.rk(c.scaling));
    ASSERT_TRUE(cuda::gemv_rope_kv_write_supported(got.mm(), got.rk(c.scaling))) << what;
    const cuda::ScopedGemvTuning tuned(tune);
    if (via_dispatcher) {
      const cuda::ScopedSwitch on(cuda::fused_rope_enabled, cuda::set_fused_rope, true);
      gpu_->matmul_rope_kv_write(got.mm(), got.rk(c.scaling));
    } else {
      cuda::gemv_rope_kv_write(got.mm(), got.rk(c.scaling), static_cast<cudaStream_t>(gpu_->stream()));
    }
    EXPECT_LT(rel_error(host(got.q), host(ref.q)), kTol) << what << ": q";
    const int64_t row = c.hkv * c.hd;
    for (const auto& [name, a, b] : {std::tuple{"k_cache", host(got.k_cache), host(ref.k_cache)},
                                     std::tuple{"v_cache", host(got.v_cache), host(ref.v_cache)}}) {
      std::vector<float> written_a, written_b;
      size_t changed = 0;
      for (int64_t s = 0; s < kBlocks * kBlockSize; ++s) {
        const bool in_step = std::find(slots.begin(), slots.end(), s) != slots.end();
        for (int64_t e = 0; e < row; ++e) {
          const float va = a[s * row + e], vb = b[s * row + e];
          if (in_step) {
            written_a.push_back(va);
            written_b.push_back(vb);
          } else {
            changed += !(va == vb);
          }
        }
      }
      EXPECT_LT(rel_error(written_a, written_b), kTol) << what << ": " << name << " rows of the step";
      EXPECT_EQ(changed, 0u) << what << ": " << name << " rows outside the step changed";
    }
  }
};

TEST_P(CudaGemvRope, MatchesUnfusedPath) {
  uint32_t seed = 500;
  for (const Case& c : {Case{8, 1, 128, 1, false, 1.0f}, Case{8, 2, 128, 2, true, 1.0f}, Case{8, 8, 64, 3, false, 1.3f},
                        Case{4, 1, 64, 8, true, 1.3f}, Case{12, 4, 16, 5, true, 1.0f}, Case{2, 1, 128, 8, false, 1.0f},
                        Case{8, 1, 128, 1, true, 1.0f, 8192}, Case{8, 2, 64, 4, false, 1.0f, 4104}}) {
    expect_same(c, seed);
    seed += 10;
  }
}

TEST_P(CudaGemvRope, ThroughTheDispatcher) { expect_same(Case{8, 1, 128, 1, true, 1.0f}, 600, true); }

// Every launch the benchmarks' tuning can force (warps per row group; at n <= 2 the deep step and
// the build without a register budget).
TEST_P(CudaGemvRope, EveryTunedLaunchMatches) {
  uint32_t seed = 700;
  for (int64_t n : {1, 2, 3}) {
    for (int g : {1, 2, 4, 8}) {
      for (const test::gemv::TunedLaunch& t : test::gemv::tuned_launches(g)) {
        SCOPED_TRACE("n " + std::to_string(n) + " group_warps " + std::to_string(g) + t.label);
        expect_same(Case{8, 1, 128, n, true, 1.0f, 4104}, seed++, false, t.tune);
      }
    }
  }
}

// The bulk-copy build (the default; GemvTuning::bulk forces it: W rows through cp.async.bulk into shared memory).
TEST_P(CudaGemvRope, BulkCopiesMatch) {
  uint32_t seed = 800;
  for (const Case& c : {Case{8, 1, 128, 1, true, 1.0f, 8192}, Case{8, 2, 64, 3, false, 1.3f}, Case{4, 1, 64, 8, true, 1.0f},
                        Case{12, 4, 16, 5, true, 1.0f, 4104}}) {
    expect_same(c, seed, false, {.bulk = true});
    seed += 10;
  }
}

// The opt-in ring build (GemvTuning::ring: W rows through a ring of shared-memory stages).
TEST_P(CudaGemvRope, RingBuildMatches) {
  uint32_t seed = 900;
  const cuda::GemvTuning ring{.ring = true};
  for (const Case& c : {Case{8, 1, 128, 1, true, 1.0f, 8192}, Case{8, 2, 64, 3, false, 1.3f}, Case{4, 1, 64, 8, true, 1.0f},
                        Case{12, 4, 16, 5, true, 1.0f, 4104}}) {
    expect_same(c, seed, false, ring);
    seed += 10;
  }
}

TEST_P(CudaGemvRope, RefusesWhatItDoesNotServe) {
  const Case c{8, 1, 128, 1, false, 1.0f};
  Call k = make_call(c, 700, {3}, {10});
  RopeKvWriteArgs unpacked = k.rk(1.0f);
  unpacked.qkv = Tensor();
  EXPECT_FALSE(cuda::gemv_rope_kv_write_supported(k.mm(), unpacked));  // not the packed form
  MatmulArgs other = k.mm();
  other.y = gpu_->alloc(dt_, k.qkv.shape());
  EXPECT_FALSE(cuda::gemv_rope_kv_write_supported(other, k.rk(1.0f)));  // rk.qkv is not the product
  EXPECT_THROW(cuda::gemv_rope_kv_write(other, k.rk(1.0f), nullptr), Error);
  MatmulArgs nine = k.mm();
  nine.x = dev(input(9 * kHidden, 1), {9, kHidden});  // more rows than the GEMV serves
  EXPECT_FALSE(cuda::gemv_rope_kv_write_supported(nine, k.rk(1.0f)));
}

// A cache slot outside the cache reaching the fused kernel (the Model refuses such a step on the
// host; a direct call does not): the kernel writes the device fault record and traps
// (kernels/cuda/device_fault.h), and the host's next check names the cause, the kernel object,
// the position and the slot, not only "unspecified launch failure". In a child process of its own
// (gtest's threadsafe death test): the trap leaves that process's context unusable. One dtype is
// enough; gpu-check's memcheck leaves it out (the trap would be the sanitizer's error).
TEST_P(CudaGemvRope, DeathSlotOutsideTheCacheNamesItself) {
  if (dt_ != DType::kBF16) GTEST_SKIP() << "one dtype is enough";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto run = [&] {
    const Case c{8, 1, 128, 2, false, 1.0f};
    Call k = make_call(c, 950, {3, 4}, {10, 11});
    k.slots = test::to_device_i32(*gpu_, {3, static_cast<int32_t>(kBlocks * kBlockSize)}, {2});  // slot 128 of 128
    cuda::gemv_rope_kv_write(k.mm(), k.rk(1.0f), static_cast<cudaStream_t>(gpu_->stream()));
    gpu_->synchronize();
  };
  EXPECT_DEATH(test::die_with_error_of(run), "caught: .*a kernel trapped: a step input out of range \\(position 11, cache slot 128 of 128\\) "
                      "in kernels/cuda/gemv_rope.cu, line [0-9]+ \\(of it or a header it includes\\), block");
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaGemvRope, ::testing::Values(DType::kBF16, DType::kF16),
                         test::gemv::dtype_param_name);

}  // namespace
}  // namespace gqa
