// The fused rope_kv_write of CudaOps (separate q, k, v, and the packed qkv rows of one QKV GEMM)
// against the unfused CPU sequence cpu::rope(q), cpu::rope(k), cpu::kv_write(k, v) on random inputs, in f32, f16 and bf16, over head dims 16/20/24/64/128 and GQA
// shapes, with the step's tokens scattered over shuffled cache slots. Every element of q, k,
// k_cache and v_cache is checked: the written cache rows are poisoned with 0xff bytes (NaN) first,
// so a skipped element fails; every other cache row holds old content that must survive bit for
// bit. Rotated values: relative error ||out - ref|| / ||ref|| (NaN never passes), f32 < 1e-5,
// f16/bf16 < 1e-2; copies (v rows, and k rows into the cache) are exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>

#include "core/error.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cuda/device_info.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/cuda/dtype_ops_test.h"
#include "tests/support/expect_error.h"

namespace gqa {
namespace {

using test::rel_error;
using test::round_to;
using test::tolerance;

using test::host_view;
using test::host_view_i32;

// Rows [r * row, (r + 1) * row) of a flat vector.
std::vector<float> row_of(const std::vector<float>& v, int64_t r, int64_t row) {
  return std::vector<float>(v.begin() + r * row, v.begin() + (r + 1) * row);
}

struct Case {
  int64_t hq, hkv, hd;
  float scaling;
};

class CudaRopeKvWriteTest : public test::CudaDtypeOpsTest {
 protected:
  // packed: q, k and v given as the rows of one qkv tensor (the model's multi-token QKV GEMM
  // output), the rotated q written to a separate, poisoned q.
  void run_case(const Case& c, uint32_t seed, bool packed = false);
};

void CudaRopeKvWriteTest::run_case(const Case& c, uint32_t seed, bool packed) {
  const int64_t n = 7, blocks = 5, bs = 4, num_slots = blocks * bs, half = c.hd / 2;
  const int64_t q_row = c.hq * c.hd, kv_row = c.hkv * c.hd;
  const Shape q_shape{n, c.hq, c.hd}, kv_shape{n, c.hkv, c.hd}, cache{blocks, bs, c.hkv, c.hd};
  const std::string what = "hq " + std::to_string(c.hq) + " hkv " + std::to_string(c.hkv) + " hd " +
                           std::to_string(c.hd) + " scaling " + std::to_string(c.scaling) +
                           (packed ? " packed qkv" : "");

  std::vector<float> q = input(n * q_row, seed), k = input(n * kv_row, seed + 1), v = input(n * kv_row, seed + 2);
  std::vector<float> kc = input(num_slots * kv_row, seed + 3), vc = input(num_slots * kv_row, seed + 4);
  std::vector<float> inv_freq(half);
  for (int64_t i = 0; i < half; ++i) inv_freq[i] = 1.0f / std::pow(10000.0f, static_cast<float>(2 * i) / c.hd);
  std::vector<int32_t> pos = {0, 1, 7, 300, 4095, 131071, 5};
  std::vector<int32_t> perm(num_slots);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(seed));
  std::vector<int32_t> slots(perm.begin(), perm.begin() + n);

  // Device inputs first (the CPU reference below updates its vectors in place).
  const int64_t qkv_row = q_row + 2 * kv_row;
  std::vector<float> qkv(n * qkv_row);  // token t's row: q | k | v
  for (int64_t t = 0; t < n; ++t) {
    std::copy_n(q.begin() + t * q_row, q_row, qkv.begin() + t * qkv_row);
    std::copy_n(k.begin() + t * kv_row, kv_row, qkv.begin() + t * qkv_row + q_row);
    std::copy_n(v.begin() + t * kv_row, kv_row, qkv.begin() + t * qkv_row + q_row + kv_row);
  }
  Tensor gq = packed ? test::poisoned(*gpu_, dt_, q_shape) : dev(q, q_shape);
  Tensor gk = packed ? Tensor() : dev(k, kv_shape), gv = packed ? Tensor() : dev(v, kv_shape);
  Tensor gqkv = packed ? dev(qkv, {n, qkv_row}) : Tensor();
  Tensor gkc = dev(kc, cache), gvc = dev(vc, cache);
  for (int32_t s : slots) {  // the rows to be written: NaN until the kernel stores them
    cuda::fill_bytes(gkc.reshape({num_slots, c.hkv, c.hd}).slice_rows(s, s + 1), 0xff, gpu_->cuda_stream());
    cuda::fill_bytes(gvc.reshape({num_slots, c.hkv, c.hd}).slice_rows(s, s + 1), 0xff, gpu_->cuda_stream());
  }
  RopeKvWriteArgs args{gq, gk, gv, gkc, gvc, test::to_device_i32(*gpu_, slots, {n}),
                       test::to_device_i32(*gpu_, pos, {n}), test::to_device(*gpu_, inv_freq, DType::kF32, {half}),
                       c.scaling};
  args.qkv = gqkv;
  gpu_->rope_kv_write(args);

  const std::vector<float> k_in = k, kc_old = kc, vc_old = vc;
  cpu::rope({host_view(q, q_shape), host_view_i32(pos, {n}), host_view(inv_freq, {half}), c.scaling});
  cpu::rope({host_view(k, kv_shape), host_view_i32(pos, {n}), host_view(inv_freq, {half}), c.scaling});
  cpu::kv_write({host_view(k, kv_shape), host_view(v, kv_shape), host_view(kc, cache), host_view(vc, cache),
                 host_view_i32(slots, {n})});

  const std::vector<float> out_q = host(gq), out_kc = host(gkc), out_vc = host(gvc);
  std::vector<float> out_k, out_v;  // packed: no k output, so k is read back from its cache rows
  if (packed) {
    for (int64_t t = 0; t < n; ++t) {
      const std::vector<float> r = row_of(out_kc, slots[t], kv_row);
      out_k.insert(out_k.end(), r.begin(), r.end());
    }
    EXPECT_EQ(rel_error(host(gqkv), qkv), 0.0) << "qkv must be left as it was, " << what;
  } else {
    out_k = host(gk);
    out_v = host(gv);
    EXPECT_EQ(rel_error(out_v, v), 0.0) << "v must be left as it was, " << what;
  }
  EXPECT_LT(rel_error(out_q, q), tolerance(dt_)) << "q, " << what;
  EXPECT_LT(rel_error(out_k, k), tolerance(dt_)) << "k, " << what;
  for (int64_t t = 0; t < n; ++t) {
    const int64_t s = slots[t];
    EXPECT_LT(rel_error(row_of(out_kc, s, kv_row), row_of(kc, s, kv_row)), tolerance(dt_))
        << "k_cache slot " << s << " of token " << t << ", " << what;
    EXPECT_EQ(rel_error(row_of(out_kc, s, kv_row), row_of(out_k, t, kv_row)), 0.0)
        << "k_cache slot " << s << " must hold exactly the rotated k of token " << t << ", " << what;
    EXPECT_EQ(rel_error(row_of(out_vc, s, kv_row), row_of(v, t, kv_row)), 0.0)
        << "v_cache slot " << s << " of token " << t << ", " << what;
  }
  for (int64_t s = 0; s < num_slots; ++s) {
    if (std::find(slots.begin(), slots.end(), s) != slots.end()) continue;
    EXPECT_EQ(rel_error(row_of(out_kc, s, kv_row), row_of(kc_old, s, kv_row)), 0.0)
        << "untouched k_cache slot " << s << ", " << what;
    EXPECT_EQ(rel_error(row_of(out_vc, s, kv_row), row_of(vc_old, s, kv_row)), 0.0)
        << "untouched v_cache slot " << s << ", " << what;
  }
  // With scaling != 1 no element is its own rotation, so a skipped q/k element cannot pass.
  if (c.scaling != 1.0f) {
    EXPECT_GT(rel_error(out_k, k_in), 1e-2) << "k was not rotated, " << what;
  }
}

TEST_P(CudaRopeKvWriteTest, MatchesUnfusedCpuSequence) {
  // GQA groups 4 and 2, MHA (group 1) and MQA (one KV head); {32, 8} gives a token more work
  // items than the kernel's block has threads (f32 at hd 128, and the element-wise hd 20).
  const std::pair<int64_t, int64_t> heads[] = {{8, 2}, {4, 2}, {3, 3}, {6, 1}, {32, 8}};
  uint32_t seed = 100;
  for (int64_t hd : {16, 20, 24, 64, 128}) {  // element-wise path: 20 in every dtype, 24 in f16/bf16
    for (auto [hq, hkv] : heads) {
      for (float scaling : {1.0f, 1.25f}) run_case({hq, hkv, hd, scaling}, seed += 10);
    }
  }
}

// The packed form the Model uses for every step: one qkv row per token in, q out, k/v to the cache.
TEST_P(CudaRopeKvWriteTest, PackedQkvMatchesUnfusedCpuSequence) {
  const std::pair<int64_t, int64_t> heads[] = {{8, 2}, {8, 1}, {3, 3}};
  uint32_t seed = 500;
  for (int64_t hd : {16, 20, 64, 128}) {
    for (auto [hq, hkv] : heads) run_case({hq, hkv, hd, 1.25f}, seed += 10, /*packed=*/true);
  }
}

TEST_P(CudaRopeKvWriteTest, RefusesMismatchesAndOverlaps) {
  const int64_t n = 2, hq = 4, hkv = 2, hd = 16;
  auto args = [&] {
    return RopeKvWriteArgs{gpu_->alloc(dt_, {n, hq, hd}), gpu_->alloc(dt_, {n, hkv, hd}),
                           gpu_->alloc(dt_, {n, hkv, hd}), gpu_->alloc(dt_, {3, 4, hkv, hd}),
                           gpu_->alloc(dt_, {3, 4, hkv, hd}), gpu_->alloc(DType::kI32, {n}),
                           gpu_->alloc(DType::kI32, {n}), gpu_->alloc(DType::kF32, {hd / 2}), 1.0f};
  };
  RopeKvWriteArgs a = args();
  a.v = gpu_->alloc(dt_, {n, hkv + 1, hd});
  test::expect_error([&] { gpu_->rope_kv_write(a); }, {"rope_kv_write", "v"});
  a = args();
  a.k_cache = gpu_->alloc(dt_, {3, 4, hkv, hd + 2});
  test::expect_error([&] { gpu_->rope_kv_write(a); }, {"rope_kv_write", "k_cache"});
  a = args();
  a.inv_freq = gpu_->alloc(DType::kF32, {hd});
  test::expect_error([&] { gpu_->rope_kv_write(a); }, {"rope_kv_write", "inv_freq"});
  a = args();
  a.positions = gpu_->alloc(DType::kI32, {n, 1});
  test::expect_error([&] { gpu_->rope_kv_write(a); }, {"rope_kv_write", "positions"});
  a = args();
  std::vector<float> host_q(n * hq * hd);
  a.q = Tensor::view(host_q.data(), dt_, {n, hq, hd});
  test::expect_error([&] { gpu_->rope_kv_write(a); }, {"rope_kv_write", "q"});
  a = args();
  a.v = a.k;
  test::expect_error([&] { gpu_->rope_kv_write(a); }, "q, k and v must not overlap");
  a = args();
  a.k = a.k_cache.reshape({3 * 4, hkv, hd}).slice_rows(0, n);
  test::expect_error([&] { gpu_->rope_kv_write(a); }, "k or v overlaps a cache");  // the KV-write operands' rule

  // The packed form: qkv [n, (hq + 2 hkv) hd] with an output q and no k, v.
  auto packed = [&] {
    RopeKvWriteArgs p = args();
    p.k = Tensor();
    p.v = Tensor();
    p.qkv = gpu_->alloc(dt_, {n, (hq + 2 * hkv) * hd});
    return p;
  };
  a = packed();
  a.k = gpu_->alloc(dt_, {n, hkv, hd});
  test::expect_error([&] { gpu_->rope_kv_write(a); }, "either qkv or k and v");
  a = packed();
  a.qkv = gpu_->alloc(dt_, {n, (hq + 2 * hkv) * hd + hd});  // an odd number of KV heads
  test::expect_error([&] { gpu_->rope_kv_write(a); }, "is not [n, (hq + 2 hkv) hd]");
  a = packed();
  a.q = a.qkv.reshape({n * (hq + 2 * hkv) * hd}).slice_rows(0, n * hq * hd).reshape({n, hq, hd});
  test::expect_error([&] { gpu_->rope_kv_write(a); }, "must not overlap qkv");
  a = packed();
  a.k_cache = gpu_->alloc(dt_, {3, 4, hkv + 1, hd});
  test::expect_error([&] { gpu_->rope_kv_write(a); }, {"rope_kv_write", "k_cache"});
}

// A slot outside the cache reaching the kernel (the Model refuses such a step on the host; a direct
// Ops call does not): the kernel's named device-side assert (kernels/cuda/device_require.cuh) ends
// it, and the host's next check reports cudaErrorAssert, not the "unspecified launch failure" of a
// bare trap. In a child process of its own (gtest's threadsafe death test re-runs this test there):
// the assert leaves that process's context unusable. One dtype is enough. gpu-check's memcheck
// leaves it out (the assert would be the sanitizer's error).
TEST_P(CudaRopeKvWriteTest, DeathSlotOutsideTheCacheIsANamedDeviceAssert) {
  if (dt_ != DType::kBF16) GTEST_SKIP() << "one dtype is enough";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const int64_t n = 2, hq = 4, hkv = 2, hd = 16, blocks = 3, bs = 4;
  const auto run = [&] {
    const RopeKvWriteArgs a{gpu_->alloc(dt_, {n, hq, hd}), gpu_->alloc(dt_, {n, hkv, hd}),
                            gpu_->alloc(dt_, {n, hkv, hd}), gpu_->alloc(dt_, {blocks, bs, hkv, hd}),
                            gpu_->alloc(dt_, {blocks, bs, hkv, hd}),
                            test::to_device_i32(*gpu_, {0, static_cast<int32_t>(blocks * bs)}, {n}),  // slot 12 of 12
                            test::to_device_i32(*gpu_, {5, 6}, {n}),
                            test::to_device(*gpu_, std::vector<float>(hd / 2, 0.5f), DType::kF32, {hd / 2}), 1.0f};
    gpu_->rope_kv_write(a);
    gpu_->synchronize();
  };
  EXPECT_DEATH(test::die_with_error_of(run), "caught: .*device-side assert triggered");
}

INSTANTIATE_TEST_SUITE_P(AllDtypes, CudaRopeKvWriteTest, ::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace gqa
