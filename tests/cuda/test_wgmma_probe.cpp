// The two wgmma forms of the wgmma prefill on one tile (kernels/cuda/wgmma_probe.h) against a host
// product in double on bf16-rounded inputs: relative error < 1e-2 (f32 accumulation of bf16
// products: ~1e-3 expected; a wrong layout gives ~1). On a mismatch the test tries the other
// stride conventions and names the one that works, so one GPU run tells how to fix the
// descriptors. Both layouts: the no-swizzle core matrices of the basic to overlap builds and the
// 128-byte swizzle of the swizzle and TMA builds (the TMA build the default). Needs a compute capability 9.0 GPU: skips elsewhere, as without a GPU.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/cuda/attention_prefill_wgmma.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/wgmma_probe.h"
#include "tests/cuda/cuda_test_util.h"

namespace gqa {
namespace {

constexpr int kKeys = 128;
constexpr double kTol = 1e-2;

std::string skip_reason() {
  if (cuda::device_count() == 0) return "no CUDA device";
  if (!cuda::prefill_wgmma_available()) return "not a compute capability 9.0 device (wgmma is sm_90a code)";
  return "";
}

// c[m][n] = sum_k a[m][k] * b(k, n), where b(k, n) = b[n * ldb_n + k * ldb_k].
std::vector<float> host_product(const std::vector<float>& a, const std::vector<float>& b, int m, int n, int k,
                                int ldb_n, int ldb_k) {
  std::vector<float> c(size_t(m) * n);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double acc = 0;
      for (int x = 0; x < k; ++x) acc += double(a[size_t(i) * k + x]) * b[size_t(j) * ldb_n + size_t(x) * ldb_k];
      c[size_t(i) * n + j] = static_cast<float>(acc);
    }
  }
  return c;
}

struct Strides {
  uint32_t lbo, sbo;
  const char* name;
};

// One layout's check of a probe: the prefill's strides must give the host product within kTol;
// on a mismatch each alternative's error is reported too (which convention the hardware follows).
// probe(lbo, sbo) runs the wgmma form on the inputs the caller bound.
template <class Probe>
void expect_strides(const std::vector<float>& ref, Strides prefill, const std::vector<Strides>& alternatives,
                    const std::string& what, Probe probe) {
  const double err = test::rel_error(probe(prefill.lbo, prefill.sbo), ref);
  if (err >= kTol) {
    for (const Strides& s : alternatives) {
      ADD_FAILURE() << what << ": the prefill's strides (" << prefill.name << ") give rel error " << err << "; "
                    << s.name << " gives " << test::rel_error(probe(s.lbo, s.sbo), ref);
    }
  }
  EXPECT_LT(err, kTol) << what;
}

// S = q K^T as the prefill computes it: K-major q and K. No swizzle: LBO 128 (next 8 columns), SBO
// hd * 16 (next 8 rows); the swizzle build: 128-row tiles, SBO 1024, LBO unused (16).
void check_qk(int hd, bool swizzle) {
  const std::vector<float> a = test::round_to(test::normal_vec(size_t(64) * hd, 61u), DType::kBF16);
  const std::vector<float> b = test::round_to(test::normal_vec(size_t(kKeys) * hd, 62u), DType::kBF16);
  const std::vector<float> ref = host_product(a, b, 64, kKeys, hd, hd, 1);
  const uint32_t group = uint32_t(hd) * 16;
  const auto probe = [&](uint32_t lbo, uint32_t sbo) { return cuda::wgmma_probe_qk(a, b, hd, lbo, sbo, swizzle); };
  const std::string what = "hd " + std::to_string(hd) + (swizzle ? ", 128-byte swizzle" : ", no swizzle");
  if (swizzle) {
    expect_strides(ref, {16, 1024, "LBO 16, SBO 1024"},
                   {{1024, 1024, "LBO 1024, SBO 1024"}, {16384, 1024, "LBO 16384, SBO 1024"}, {16, 128, "LBO 16, SBO 128"}},
                   what, probe);
  } else {
    expect_strides(ref, {128, group, "LBO 128, SBO hd*16"},
                   {{group, 128, "LBO hd*16, SBO 128 (swapped)"}, {128, 128, "LBO 128, SBO 128"},
                    {group, group, "LBO hd*16, SBO hd*16"}},
                   what, probe);
  }
}

// O = P V as the prefill computes it: P through registers, V read N-major. No swizzle: LBO hd * 16
// (next 8 keys), SBO 128 (next 8 dims); the swizzle build: LBO 128 * 128 (next 64 dims), SBO 1024
// (next 8 keys).
void check_pv(int hd, bool swizzle) {
  const std::vector<float> p = test::round_to(test::random_vec(size_t(64) * kKeys, 63u, 0.0f, 1.0f), DType::kBF16);
  const std::vector<float> v = test::round_to(test::normal_vec(size_t(kKeys) * hd, 64u), DType::kBF16);
  const std::vector<float> ref = host_product(p, v, 64, hd, kKeys, 1, hd);
  const uint32_t group = uint32_t(hd) * 16, half = kKeys * 128;
  const auto probe = [&](uint32_t lbo, uint32_t sbo) { return cuda::wgmma_probe_pv(p, v, hd, lbo, sbo, swizzle); };
  const std::string what = "hd " + std::to_string(hd) + (swizzle ? ", 128-byte swizzle" : ", no swizzle");
  if (swizzle) {
    expect_strides(ref, {half, 1024, "LBO 128*128, SBO 1024"},
                   {{1024, half, "LBO 1024, SBO 128*128 (swapped)"}, {half, 128, "LBO 128*128, SBO 128"},
                    {128, half, "LBO 128, SBO 128*128"}},
                   what, probe);
  } else {
    expect_strides(ref, {group, 128, "LBO hd*16, SBO 128"},
                   {{128, group, "LBO 128, SBO hd*16 (swapped)"}, {128, 128, "LBO 128, SBO 128"},
                    {group, group, "LBO hd*16, SBO hd*16"}},
                   what, probe);
  }
}

class WgmmaProbe : public ::testing::TestWithParam<int> {};

// Each form and layout a test of its own, the swizzled ones last: a fault in one would poison the
// process's context for the tests after it.
TEST_P(WgmmaProbe, QkMatchesHostProduct) {
  if (const std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
  check_qk(GetParam(), false);
}
TEST_P(WgmmaProbe, PvMatchesHostProduct) {
  if (const std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
  check_pv(GetParam(), false);
}
TEST_P(WgmmaProbe, SwizzledQkMatchesHostProduct) {
  if (const std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
  check_qk(GetParam(), true);
}
TEST_P(WgmmaProbe, SwizzledPvMatchesHostProduct) {
  if (const std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
  check_pv(GetParam(), true);
}

INSTANTIATE_TEST_SUITE_P(HeadDims, WgmmaProbe, ::testing::Values(64, 128));

TEST(WgmmaProbeArgs, RefusesOtherShapes) {
  EXPECT_THROW(cuda::wgmma_probe_qk({}, {}, 96, 128, 128), Error);
  EXPECT_THROW(cuda::wgmma_probe_qk(std::vector<float>(10), std::vector<float>(10), 64, 128, 1024), Error);
  EXPECT_THROW(cuda::wgmma_probe_pv(std::vector<float>(10), std::vector<float>(10), 128, 2048, 128), Error);
}

}  // namespace
}  // namespace gqa
