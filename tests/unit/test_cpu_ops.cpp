// CPU reference ops (except attention/kv_write, see test_cpu_attention.cpp) against plain double
// loops written here, on seeded random inputs, checking every element.
#include <algorithm>

#include "cpu_op_test_util.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/cpu_ops.h"

namespace gqa::cpu {
namespace {

using test::expect_all_close;
using test::expect_error;
using test::i32_tensor;
using test::random_f32;
using test::to_double;

TEST(CpuEmbedding, VocabSliceGivesZeroRowsOutside) {
  std::mt19937 rng(1);
  const int64_t vocab_begin = 10, vocab_local = 7, d = 12;
  Tensor table = random_f32({vocab_local, d}, rng);
  const std::vector<int32_t> ids = {10, 16, 9, 17, 0, -1, 13, 1000000};
  Tensor out = test::filled_f32({8, d}, NAN);
  embedding({i32_tensor(ids), table, vocab_begin, out});
  std::vector<double> want(static_cast<size_t>(8 * d), 0.0);
  for (size_t t = 0; t < ids.size(); ++t) {
    if (ids[t] < vocab_begin || ids[t] >= vocab_begin + vocab_local) continue;
    for (int64_t i = 0; i < d; ++i) want[t * d + i] = table.data_as<float>()[(ids[t] - vocab_begin) * d + i];
  }
  expect_all_close(out, want, 0.0, 0.0, "embedding slice");

  Tensor full_out = Tensor::host(DType::kF32, {2, d});
  embedding({i32_tensor({6, 0}), table, 0, full_out});
  for (int64_t i = 0; i < d; ++i) {
    EXPECT_EQ(full_out.data_as<float>()[i], table.data_as<float>()[6 * d + i]);
    EXPECT_EQ(full_out.data_as<float>()[d + i], table.data_as<float>()[i]);
  }
}

std::vector<double> ref_rmsnorm(const Tensor& x, const Tensor& w, double eps) {
  const int64_t n = x.dim(0), d = x.dim(1);
  std::vector<double> out(static_cast<size_t>(n * d));
  for (int64_t t = 0; t < n; ++t) {
    double ss = 0;
    for (int64_t i = 0; i < d; ++i)
      ss += double{x.data_as<float>()[t * d + i]} * x.data_as<float>()[t * d + i];
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(d) + eps);
    for (int64_t i = 0; i < d; ++i)
      out[t * d + i] = x.data_as<float>()[t * d + i] * inv * w.data_as<float>()[i];
  }
  return out;
}

TEST(CpuRmsNorm, MatchesReference) {
  for (auto [n, d] : {std::pair<int64_t, int64_t>{3, 64}, {1, 4096}, {5, 5}}) {
    std::mt19937 rng(static_cast<uint32_t>(n * 1000 + d));
    Tensor x = random_f32({n, d}, rng, -3.0f, 3.0f);
    Tensor w = random_f32({d}, rng, 0.5f, 1.5f);
    Tensor out = test::filled_f32({n, d}, NAN);
    rmsnorm({x, w, out, 1e-5f});
    expect_all_close(out, ref_rmsnorm(x, w, 1e-5), 1e-6, 2e-6, "rmsnorm d=" + std::to_string(d));
    const std::vector<double> want = ref_rmsnorm(x, w, 1e-5);
    rmsnorm({x, w, x, 1e-5f});  // in place
    expect_all_close(x, want, 1e-6, 2e-6, "rmsnorm in place d=" + std::to_string(d));
  }
}

// x + residual then rmsnorm: in place on x (x holds the sum) and into x_out (x unchanged); the
// norm's output aliasing the residual, as the model calls it; x_out overlapping an input refused.
TEST(CpuAddRmsNorm, InPlaceAndIntoXOut) {
  const int64_t n = 3, d = 40;
  std::mt19937 rng(7);
  Tensor x = random_f32({n, d}, rng, -2.0f, 2.0f), res = random_f32({n, d}, rng), w = random_f32({d}, rng, 0.5f, 1.5f);
  Tensor sum = Tensor::host(DType::kF32, {n, d});
  std::vector<double> want_sum(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n * d; ++i) {
    sum.data_as<float>()[i] = x.data_as<float>()[i] + res.data_as<float>()[i];
    want_sum[i] = sum.data_as<float>()[i];
  }
  const std::vector<double> want_out = ref_rmsnorm(sum, w, 1e-5);
  const std::vector<double> x0 = to_double(x);

  Tensor x_out = test::filled_f32({n, d}, NAN), h = test::filled_f32({n, d}, NAN);
  std::copy_n(res.data_as<float>(), n * d, h.data_as<float>());
  CpuOps ops;
  ops.add_rmsnorm({x, h, w, h, 1e-5f, x_out});  // out = residual's buffer
  expect_all_close(x_out, want_sum, 0.0, 0.0, "add_rmsnorm x_out");
  expect_all_close(h, want_out, 1e-6, 2e-6, "add_rmsnorm out (into x_out)");
  expect_all_close(x, x0, 0.0, 0.0, "add_rmsnorm leaves x with x_out");

  Tensor out = test::filled_f32({n, d}, NAN);
  ops.add_rmsnorm({x, res, w, out, 1e-5f});
  expect_all_close(x, want_sum, 0.0, 0.0, "add_rmsnorm in place");
  expect_all_close(out, want_out, 1e-6, 2e-6, "add_rmsnorm out (in place)");

  expect_error([&] { ops.add_rmsnorm({x, res, w, out, 1e-5f, x}); }, "overlaps");
  expect_error([&] { ops.add_rmsnorm({x, res, w, out, 1e-5f, res}); }, "overlaps");
  expect_error([&] { ops.add_rmsnorm({x, res, w, out, 1e-5f, out}); }, "overlaps");
}

std::vector<double> ref_matmul(const Tensor& x, const Tensor& w, const Tensor& bias) {
  const int64_t n = x.dim(0), k = x.dim(1), m = w.dim(0);
  std::vector<double> y(static_cast<size_t>(n * m));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < m; ++c) {
      double acc = bias.defined() ? bias.data_as<float>()[c] : 0.0;
      for (int64_t i = 0; i < k; ++i)
        acc += double{x.data_as<float>()[r * k + i]} * w.data_as<float>()[c * k + i];
      y[r * m + c] = acc;
    }
  }
  return y;
}

TEST(CpuMatmul, WithAndWithoutBias) {
  struct Dims {
    int64_t n, k, m;
  };
  for (Dims s : {Dims{1, 64, 48}, Dims{1, 300, 7}, Dims{5, 33, 17}, Dims{16, 128, 96}}) {
    for (bool with_bias : {false, true}) {
      std::mt19937 rng(static_cast<uint32_t>(s.n * 7 + s.k * 3 + s.m + with_bias));
      Tensor x = random_f32({s.n, s.k}, rng), w = random_f32({s.m, s.k}, rng);
      Tensor bias = with_bias ? random_f32({s.m}, rng) : Tensor();
      Tensor y = test::filled_f32({s.n, s.m}, NAN);  // stale contents must not leak through
      matmul({x, w, bias, y});
      expect_all_close(y, ref_matmul(x, w, bias), 1e-5, 1e-5,
                       "matmul n=" + std::to_string(s.n) + " k=" + std::to_string(s.k) +
                           " m=" + std::to_string(s.m) + (with_bias ? " +bias" : ""));
    }
  }
}

TEST(CpuMatmul, EmptyInnerDimensionGivesBias) {
  Tensor x = Tensor::host(DType::kF32, {2, 0}), w = Tensor::host(DType::kF32, {3, 0});
  Tensor bias = test::filled_f32({3}, 0.5f), y = test::filled_f32({2, 3}, NAN);
  matmul({x, w, bias, y});
  expect_all_close(y, std::vector<double>(6, 0.5), 0.0, 0.0, "matmul k=0");
}

// HF-style inv_freq (computed in f32) and the op's definition: angle = f32(pos) * inv_freq in f32;
// the rotation itself in double.
std::vector<double> ref_rope(const Tensor& x, const std::vector<int32_t>& pos, const Tensor& inv_freq,
                             double scaling) {
  const int64_t n = x.dim(0), heads = x.dim(1), hd = x.dim(2), half = hd / 2;
  std::vector<double> out = to_double(x);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t i = 0; i < half; ++i) {
        const float angle = static_cast<float>(pos[t]) * inv_freq.data_as<float>()[i];
        const double c = std::cos(double{angle}) * scaling, s = std::sin(double{angle}) * scaling;
        const double x1 = x.data_as<float>()[(t * heads + h) * hd + i];
        const double x2 = x.data_as<float>()[(t * heads + h) * hd + i + half];
        out[(t * heads + h) * hd + i] = x1 * c - x2 * s;
        out[(t * heads + h) * hd + i + half] = x2 * c + x1 * s;
      }
    }
  }
  return out;
}

Tensor hf_inv_freq(int64_t hd, float theta) {
  Tensor t = Tensor::host(DType::kF32, {hd / 2});
  for (int64_t i = 0; i < hd / 2; ++i) {
    t.data_as<float>()[i] = 1.0f / std::pow(theta, static_cast<float>(2 * i) / static_cast<float>(hd));
  }
  return t;
}

TEST(CpuRope, MatchesReference) {
  const std::vector<int32_t> pos = {0, 1, 7, 4095, 131071};
  for (int64_t hd : {16, 64, 128}) {
    for (auto [theta, scaling] : {std::pair<float, float>{10000.0f, 1.0f}, {500000.0f, 1.25f}}) {
      std::mt19937 rng(static_cast<uint32_t>(hd));
      Tensor x = random_f32({5, 3, hd}, rng);
      Tensor inv_freq = hf_inv_freq(hd, theta);
      const std::vector<double> want = ref_rope(x, pos, inv_freq, scaling);
      rope({x, i32_tensor(pos), inv_freq, scaling});
      expect_all_close(x, want, 1e-6, 1e-6,
                       "rope hd=" + std::to_string(hd) + " theta=" + std::to_string(theta));
    }
  }
}

TEST(CpuRope, PositionZeroIsIdentity) {
  std::mt19937 rng(3);
  Tensor x = random_f32({1, 4, 64}, rng);
  const std::vector<double> before = to_double(x);
  rope({x, i32_tensor({0}), hf_inv_freq(64, 10000.0f), 1.0f});
  expect_all_close(x, before, 0.0, 0.0, "rope at position 0");
}

// A negative position is refused by name (it would rotate backwards, silently).
// (Mutation testing: without the check every test passed.)
TEST(CpuRope, RefusesNegativePosition) {
  std::mt19937 rng(6);
  Tensor x = random_f32({2, 2, 16}, rng);
  expect_error([&] { rope({x, i32_tensor({3, -1}), hf_inv_freq(16, 10000.0f), 1.0f}); },
               "negative position -1 at token 1");
}

TEST(CpuSwiglu, MatchesReferenceOnPackedGateUp) {
  std::mt19937 rng(4);
  const int64_t n = 4, f = 37;
  Tensor gate_up = random_f32({n, 2 * f}, rng, -8.0f, 8.0f);
  float* gu = gate_up.data_as<float>();
  gu[0] = -100.0f;  // exp overflow path
  gu[1] = 100.0f;
  std::vector<double> want(static_cast<size_t>(n * f));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < f; ++j) {
      const double g = gu[i * 2 * f + j], u = gu[i * 2 * f + f + j];
      want[i * f + j] = g / (1.0 + std::exp(-g)) * u;
    }
  }
  Tensor out = test::filled_f32({n, f}, NAN);
  swiglu({gate_up, out});
  expect_all_close(out, want, 1e-6, 1e-6, "swiglu");
}

TEST(CpuAdd, AddsInPlace) {
  std::mt19937 rng(5);
  Tensor x = random_f32({3, 5, 7}, rng), y = random_f32({3, 5, 7}, rng);
  std::vector<double> want(static_cast<size_t>(x.numel()));
  for (int64_t i = 0; i < x.numel(); ++i) want[i] = x.data_as<float>()[i] + y.data_as<float>()[i];
  add(x, y);
  expect_all_close(y, want, 0.0, 0.0, "add");
  // x may be y itself (y doubles) but not part of it, as on the GPU
  Tensor z = random_f32({4, 4}, rng);
  const float z0 = z.data_as<float>()[5];
  add(z, z);
  EXPECT_EQ(z.data_as<float>()[5], 2 * z0);
  Tensor x_in_z = Tensor::view(z.data_as<float>() + 1, DType::kF32, {3, 4});
  Tensor y_in_z = Tensor::view(z.data_as<float>(), DType::kF32, {3, 4});
  expect_error([&] { add(x_in_z, y_in_z); }, "add: x and y partly overlap");
}

TEST(CpuOps, MismatchedShapesAndDtypesThrow) {
  std::mt19937 rng(6);
  Tensor x = random_f32({2, 8}, rng);
  EXPECT_THROW(add(x, random_f32({2, 9}, rng)), Error);
  expect_error([&] { add(x, random_f32({8, 2}, rng)); }, "add: y has shape [8, 2], expected [2, 8]");
  expect_error(
      [&] {
        matmul({x, random_f32({4, 7}, rng), Tensor(), random_f32({2, 4}, rng)});
      },
      "matmul: x [2, 8] and w [4, 7] disagree");
  expect_error(
      [&] {
        matmul({x, random_f32({4, 8}, rng), random_f32({3}, rng), random_f32({2, 4}, rng)});
      },
      "matmul: bias");
  expect_error([&] { matmul({x, random_f32({8, 8}, rng), Tensor(), x}); }, "overlaps");
  expect_error([&] { rmsnorm({x, random_f32({4}, rng), x, 1e-6f}); }, "rmsnorm: weight");
  expect_error(
      [&] {
        rope({random_f32({1, 2, 8}, rng), i32_tensor({0, 1}), random_f32({4}, rng), 1.0f});
      },
      "rope: positions");
  expect_error(
      [&] {
        rope({random_f32({1, 2, 8}, rng), i32_tensor({0}), random_f32({8}, rng), 1.0f});
      },
      "rope: inv_freq");
  expect_error([&] { swiglu({random_f32({2, 16}, rng), random_f32({2, 7}, rng)}); }, "swiglu: out");
  expect_error([&] { swiglu({random_f32({2, 7}, rng), random_f32({2, 3}, rng)}); }, "odd width");
  Tensor gate_up = random_f32({2, 16}, rng);
  expect_error([&] { swiglu({gate_up, Tensor::view(gate_up.data_as<float>(), DType::kF32, {2, 8})}); },
               "swiglu: out overlaps gate_up");
  expect_error([&] { embedding({random_f32({2}, rng), x, 0, x}); }, "embedding: ids must be i32");
  Tensor half = Tensor::host(DType::kBF16, {2, 8});
  expect_error([&] { add(half, x); }, "add: x must be f32");
}

TEST(CpuOps, BackendThroughTheInterface) {
  CpuOps cpu;
  Ops& ops = cpu;
  EXPECT_EQ(ops.device(), Device::kCpu);
  EXPECT_EQ(ops.compute_dtype(), DType::kF32);
  EXPECT_EQ(ops.stream(), nullptr);

  const std::vector<float> values = {1.0f, -2.5f, 1.0f / 3.0f, 0.0f, 7.0f, 65504.0f};
  for (DType dt : {DType::kF32, DType::kF16, DType::kBF16}) {
    Tensor t = ops.alloc(dt, {2, 3});
    EXPECT_EQ(t.shape(), (Shape{2, 3}));
    ops.upload_f32(values.data(), t);
    std::vector<float> back(values.size());
    ops.download_f32(t, back.data());
    for (size_t i = 0; i < values.size(); ++i) {
      const float want = dt == DType::kF32   ? values[i]
                         : dt == DType::kF16 ? f16_to_f32(f32_to_f16(values[i]))
                                             : bf16_to_f32(f32_to_bf16(values[i]));
      EXPECT_EQ(back[i], want) << dtype_name(dt) << " element " << i;
    }
  }
  Tensor ids = ops.alloc(DType::kI32, {3});
  const int32_t raw[3] = {4, -1, 9};
  ops.upload_i32(raw, ids);
  EXPECT_EQ(ids.data_as<int32_t>()[1], -1);
  EXPECT_THROW(ops.upload_i32(raw, ops.alloc(DType::kF32, {3})), Error);
  EXPECT_THROW(ops.upload_f32(values.data(), ids), Error);

  std::mt19937 rng(7);
  Tensor x = random_f32({2, 6}, rng), w = random_f32({6}, rng), out = ops.alloc(DType::kF32, {2, 6});
  ops.rmsnorm({x, w, out, 1e-6f});
  ops.synchronize();
  expect_all_close(out, ref_rmsnorm(x, w, 1e-6), 1e-6, 2e-6, "rmsnorm via Ops");
}

// Ops::rope_kv_write's default (which CpuOps keeps for separate q, k, v) is exactly rope(q), rope(k), kv_write(k, v).
TEST(CpuOps, RopeKvWriteDefaultIsTheThreeCalls) {
  CpuOps cpu;
  Ops& ops = cpu;
  const int64_t n = 3, hq = 4, hkv = 2, hd = 16, blocks = 3, bs = 2;
  std::mt19937 rng(11);
  Tensor q = random_f32({n, hq, hd}, rng), k = random_f32({n, hkv, hd}, rng), v = random_f32({n, hkv, hd}, rng);
  Tensor kc = random_f32({blocks, bs, hkv, hd}, rng), vc = random_f32({blocks, bs, hkv, hd}, rng);
  Tensor inv_freq = hf_inv_freq(hd, 10000.0f);
  const std::vector<int32_t> pos = {5, 0, 900}, slots = {4, 1, 5};
  auto copy = [](const Tensor& t) {
    Tensor c = Tensor::host(DType::kF32, t.shape());
    std::copy(t.data_as<float>(), t.data_as<float>() + t.numel(), c.data_as<float>());
    return c;
  };
  Tensor q2 = copy(q), k2 = copy(k), kc2 = copy(kc), vc2 = copy(vc);

  ops.rope_kv_write({q, k, v, kc, vc, i32_tensor(slots), i32_tensor(pos), inv_freq, 1.25f});
  rope({q2, i32_tensor(pos), inv_freq, 1.25f});
  rope({k2, i32_tensor(pos), inv_freq, 1.25f});
  kv_write({k2, v, kc2, vc2, i32_tensor(slots)});
  expect_all_close(q, to_double(q2), 0.0, 0.0, "q");
  expect_all_close(k, to_double(k2), 0.0, 0.0, "k");
  expect_all_close(kc, to_double(kc2), 0.0, 0.0, "k_cache");
  expect_all_close(vc, to_double(vc2), 0.0, 0.0, "v_cache");
  expect_error([&] { ops.rope_kv_write({q, k, v, kc, vc, i32_tensor({0, 1, 6}), i32_tensor(pos), inv_freq, 1.0f}); },
               "kv_write: slot 6");
}

// The packed form (one qkv row per token: q | k | v) gives exactly what separate q, k, v give,
// leaves qkv as it was, and is refused when its shapes do not add up.
TEST(CpuOps, RopeKvWritePackedEqualsSeparate) {
  CpuOps ops;
  const int64_t n = 3, hq = 4, hkv = 2, hd = 16, blocks = 3, bs = 2, row = (hq + 2 * hkv) * hd;
  std::mt19937 rng(12);
  Tensor qkv = random_f32({n, row}, rng);
  Tensor kc = random_f32({blocks, bs, hkv, hd}, rng), vc = random_f32({blocks, bs, hkv, hd}, rng);
  Tensor kc2 = Tensor::host(DType::kF32, kc.shape()), vc2 = Tensor::host(DType::kF32, vc.shape());
  std::copy_n(kc.data_as<float>(), kc.numel(), kc2.data_as<float>());
  std::copy_n(vc.data_as<float>(), vc.numel(), vc2.data_as<float>());
  Tensor q = Tensor::host(DType::kF32, {n, hq, hd}), k = Tensor::host(DType::kF32, {n, hkv, hd});
  Tensor v = Tensor::host(DType::kF32, {n, hkv, hd});
  for (int64_t t = 0; t < n; ++t) {
    const float* r = qkv.data_as<float>() + t * row;
    std::copy_n(r, hq * hd, q.data_as<float>() + t * hq * hd);
    std::copy_n(r + hq * hd, hkv * hd, k.data_as<float>() + t * hkv * hd);
    std::copy_n(r + (hq + hkv) * hd, hkv * hd, v.data_as<float>() + t * hkv * hd);
  }
  const std::vector<double> qkv_before = to_double(qkv);
  Tensor inv_freq = hf_inv_freq(hd, 10000.0f);
  const std::vector<int32_t> pos = {5, 0, 900}, slots = {4, 1, 5};
  ops.rope_kv_write({q, k, v, kc, vc, i32_tensor(slots), i32_tensor(pos), inv_freq, 1.25f});

  Tensor q_out = Tensor::host(DType::kF32, {n, hq, hd});
  RopeKvWriteArgs packed{q_out, Tensor(), Tensor(), kc2, vc2, i32_tensor(slots), i32_tensor(pos), inv_freq, 1.25f};
  packed.qkv = qkv;
  ops.rope_kv_write(packed);
  expect_all_close(q_out, to_double(q), 0.0, 0.0, "q");
  expect_all_close(kc2, to_double(kc), 0.0, 0.0, "k_cache");
  expect_all_close(vc2, to_double(vc), 0.0, 0.0, "v_cache");
  expect_all_close(qkv, qkv_before, 0.0, 0.0, "qkv is read only");

  RopeKvWriteArgs both = packed;
  both.k = k;
  expect_error([&] { ops.rope_kv_write(both); }, "either qkv or k and v");
  RopeKvWriteArgs odd = packed;
  odd.qkv = qkv.reshape({n * row}).slice_rows(0, n * (row - hd)).reshape({n, row - hd});  // 2 hkv + 1 heads
  expect_error([&] { ops.rope_kv_write(odd); }, "is not [n, (hq + 2 hkv) hd]");
  RopeKvWriteArgs overlap = packed;
  overlap.q = qkv.reshape({n * row}).slice_rows(0, n * hq * hd).reshape({n, hq, hd});
  expect_error([&] { ops.rope_kv_write(overlap); }, "must not overlap qkv");
}

}  // namespace
}  // namespace gqa::cpu
