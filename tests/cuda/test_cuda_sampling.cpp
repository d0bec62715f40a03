// GPU sampling (kernels/cuda/sampling.h) against the CPU sampler (src/runtime/sampler.h):
// greedy argmax with its tie rule (lowest id) in f32/f16/bf16, NaN rows flagged with -1, and
// top-k / top-p / temperature sampling giving the very token the CPU Sampler picks when the GPU
// is handed the Sampler's own uniform draw (top-k by selection or by the sort); the top-k
// candidate rows of Ops::top_k_rows.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <utility>

#include "core/error.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/sampling.h"
#include "runtime/sampler.h"
#include "tests/cuda/cuda_test_util.h"

namespace gqa {
namespace {

class CudaSampling : public ::testing::TestWithParam<DType> {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
    ops_ = std::make_unique<cuda::CudaOps>(0, GetParam());
  }
  // ops_->top_k_rows on logits [m, n] (rounded to dt) against CpuOps::top_k_rows: how many floats
  // of the pairs and NaN flags differ (NaN never equals), the mass checked up to f64 summation
  // order; *got gets the GPU's rows.
  int64_t top_k_row_diffs(const std::vector<float>& logits, DType dt, int64_t m, int64_t n, int64_t k,
                          float temperature, std::vector<float>* got = nullptr) {
    Tensor host = Tensor::host(DType::kF32, {m, n});
    std::copy(logits.begin(), logits.end(), host.data_as<float>());
    const std::vector<float> want = cpu::CpuOps().top_k_rows(host, k, temperature);
    const std::vector<float> rows = ops_->top_k_rows(test::to_device(*ops_, logits, dt, {m, n}), k, temperature);
    EXPECT_EQ(rows.size(), want.size());
    if (rows.size() != want.size()) return -1;
    const int64_t w = top_k_row_width(k);
    int64_t diffs = 0;
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t i = 0; i < 2 * k + 1; ++i) diffs += !(rows[r * w + i] == want[r * w + i]);
      const double gm = static_cast<double>(rows[r * w + 2 * k + 1]) + rows[r * w + 2 * k + 2];
      const double wm = static_cast<double>(want[r * w + 2 * k + 1]) + want[r * w + 2 * k + 2];
      EXPECT_NEAR(gm, wm, (1e-14 + 2e-16 * static_cast<double>(n)) * wm) << "mass of row " << r << " n " << n;
    }
    if (got != nullptr) *got = rows;
    return diffs;
  }
  std::unique_ptr<cuda::CudaOps> ops_;
};

TEST_P(CudaSampling, ArgmaxMatchesCpuWithTiesAndNaN) {
  const DType dt = GetParam();
  for (int64_t vocab : {7, 1000, 50257}) {
    const int64_t m = 5;
    std::vector<float> logits = test::round_to(test::random_vec(m * vocab, 70 + vocab, -5.0f, 5.0f), dt);
    // Row 1: the maximum twice, the later id written first; row 2: all -inf; row 3: a NaN.
    const int64_t lo = vocab / 3, hi = vocab - 1;
    logits[vocab + hi] = 9.0f;
    logits[vocab + lo] = 9.0f;
    for (int64_t i = 0; i < vocab; ++i) logits[2 * vocab + i] = -std::numeric_limits<float>::infinity();
    logits[3 * vocab + vocab / 2] = std::numeric_limits<float>::quiet_NaN();

    Tensor out = test::poisoned(*ops_, DType::kI32, {m});
    cuda::argmax({test::to_device(*ops_, logits, dt, {m, vocab}), out}, ops_->cuda_stream());
    const std::vector<int32_t> got = test::to_host_i32(*ops_, out);
    for (int64_t r = 0; r < m; ++r) {
      const int32_t want = r == 3 ? -1 : argmax(logits.data() + r * vocab, vocab);
      EXPECT_EQ(got[r], want) << "row " << r << " vocab " << vocab;
    }
    EXPECT_EQ(got[1], lo) << "ties go to the lowest id";
    EXPECT_EQ(got[2], 0) << "all -inf: the first id, like the CPU argmax";
  }
}

struct SampleCase {
  float temperature;
  int64_t top_k;
  float top_p;
};

TEST_P(CudaSampling, SampleMatchesCpuSamplerDraws) {
  const DType dt = GetParam();
  for (bool select : {true, false}) {  // top_k by selection (the default) or by the sort
    const cuda::ScopedSwitch how(cuda::top_k_select_enabled, cuda::set_top_k_select, select);
    const SampleCase cases[] = {{0.7f, 0, 1.0f}, {1.0f, 40, 1.0f}, {1.3f, 0, 0.9f}, {0.5f, 100, 0.8f},
                                {1.0f, 1, 1.0f}, {2.0f, 5000, 0.3f}, {0.0f, 0, 1.0f}, {1.0f, 1024, 0.95f},
                                {1.0f, 2000, 0.95f}};  // top_k <= 1024: selection (top_k_select.cu); above: the sort
    const int64_t m = 16, vocab = 3000;
    std::vector<float> logits = test::round_to(test::random_vec(m * vocab, 80, -4.0f, 4.0f), dt);
    Tensor glogits = test::to_device(*ops_, logits, dt, {m, vocab});
    int mismatches = 0;
    for (const SampleCase& c : cases) {
      std::vector<float> uniforms(m);
      std::vector<int32_t> want(m);
      for (int64_t r = 0; r < m; ++r) {
        const uint64_t seed = 1000 + r;
        std::mt19937_64 rng(seed);  // the CPU Sampler's generator and its first draw
        uniforms[r] = static_cast<float>(std::generate_canonical<double, std::numeric_limits<double>::digits>(rng));
        Sampler cpu({c.temperature, c.top_k, c.top_p, seed});
        want[r] = cpu.sample(logits.data() + r * vocab, vocab);
      }
      Tensor out = test::poisoned(*ops_, DType::kI32, {m});
      const cuda::SampleArgs args{glogits, test::to_device(*ops_, uniforms, DType::kF32, {m}), out,
                                  c.temperature, c.top_k, c.top_p};
      cuda::sample(args, ops_->cuda_stream());
      const std::vector<int32_t> got = test::to_host_i32(*ops_, out);
      for (int64_t r = 0; r < m; ++r) mismatches += got[r] != want[r];
      EXPECT_EQ(got, want) << "temperature " << c.temperature << " top_k " << c.top_k << " top_p " << c.top_p;
      cuda::sample(args, ops_->cuda_stream());
      EXPECT_EQ(test::to_host_i32(*ops_, out), got) << "same draws, same tokens";
    }
    EXPECT_EQ(mismatches, 0) << (select ? "selection" : "sort");
  }
}

// sample_from_candidates (temperature / top-p over the whole vocabulary from each row's best 256
// and its mass): on peaked rows (a few logits far above the rest, as a language model's usually
// are) the nucleus lies within the candidates and every draw is the CPU Sampler's; on flat rows
// top-p 0.9's nucleus reaches past them and the row is left to the sort (kUndecided); a row of at
// most 256 logits is always decided; a NaN row gives -1.
TEST_P(CudaSampling, SampleFromCandidatesDecidesOrDefers) {
  const DType dt = GetParam();
  const int64_t m = 16;
  for (int64_t vocab : {3000, 200}) {
    std::vector<float> flat = test::round_to(test::random_vec(m * vocab, 85 + vocab, -4.0f, 4.0f), dt);
    std::vector<float> peaked = flat;
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t j = 0; j < 5; ++j) peaked[r * vocab + (r * 37 + j * 101) % vocab] = 12.0f - 0.5f * float(j);
    }
    for (const auto& [name, logits] : {std::pair<const char*, std::vector<float>*>{"peaked", &peaked}, {"flat", &flat}}) {
      const Tensor g = test::to_device(*ops_, *logits, dt, {m, vocab});
      for (const SampleCase& c : {SampleCase{1.0f, 0, 0.9f}, SampleCase{0.7f, 0, 0.5f}, SampleCase{1.0f, 0, 1.0f}}) {
        std::vector<float> uniforms(m);
        std::vector<int32_t> want(m);
        for (int64_t r = 0; r < m; ++r) {
          const uint64_t seed = 2000 + r;
          std::mt19937_64 rng(seed);
          uniforms[r] = static_cast<float>(std::generate_canonical<double, std::numeric_limits<double>::digits>(rng));
          Sampler cpu({c.temperature, 0, c.top_p, seed});
          want[r] = cpu.sample(logits->data() + r * vocab, vocab);
        }
        Tensor out = test::poisoned(*ops_, DType::kI32, {m});
        cuda::sample_from_candidates({g, test::to_device(*ops_, uniforms, DType::kF32, {m}), out, c.temperature, 0,
                                      c.top_p},
                                     256, ops_->cuda_stream());
        const std::vector<int32_t> got = test::to_host_i32(*ops_, out);
        int decided = 0;
        for (int64_t r = 0; r < m; ++r) {
          if (got[r] == cuda::kUndecided) continue;
          ++decided;
          EXPECT_EQ(got[r], want[r]) << name << " vocab " << vocab << " row " << r << " top_p " << c.top_p;
        }
        const std::string what = std::string(name) + " vocab " + std::to_string(vocab) + " top_p " + std::to_string(c.top_p);
        if (vocab <= 256 || (logits == &peaked && c.top_p < 1.0f)) {
          EXPECT_EQ(decided, m) << what;  // the whole row, or a nucleus of a few
        }
        if (vocab > 256 && logits == &flat && c.top_p == 0.9f) {
          EXPECT_EQ(decided, 0) << what;  // ~90% of 3000 near-equal logits: far past 256
        }
      }
    }
  }
  std::vector<float> bad = test::random_vec(2 * 3000, 9);
  bad[3000 + 11] = std::numeric_limits<float>::quiet_NaN();
  Tensor out = test::poisoned(*ops_, DType::kI32, {2});
  cuda::sample_from_candidates({test::to_device(*ops_, bad, dt, {2, 3000}), test::to_device(*ops_, {0.5f, 0.5f}, DType::kF32, {2}),
                                out, 1.0f, 0, 0.9f},
                               256, ops_->cuda_stream());
  EXPECT_EQ(test::to_host_i32(*ops_, out)[1], -1);
  EXPECT_THROW(cuda::sample_from_candidates({test::to_device(*ops_, bad, dt, {2, 3000}),
                                             test::to_device(*ops_, {0.5f, 0.5f}, DType::kF32, {2}), out, 1.0f, 5, 0.9f},
                                            256, ops_->cuda_stream()),
               Error);  // top_k > 0 is sample()'s
}

TEST_P(CudaSampling, SampleFlagsNaNRowsAndRefusesBadParams) {
  const DType dt = GetParam();
  const int64_t m = 2, vocab = 100;
  std::vector<float> logits = test::round_to(test::random_vec(m * vocab, 90), dt);
  logits[vocab + 17] = std::numeric_limits<float>::quiet_NaN();
  Tensor out = test::poisoned(*ops_, DType::kI32, {m});
  Tensor u = test::to_device(*ops_, {0.5f, 0.5f}, DType::kF32, {m});
  Tensor gl = test::to_device(*ops_, logits, dt, {m, vocab});
  cuda::sample({gl, u, out, 1.0f, 0, 1.0f}, ops_->cuda_stream());
  const std::vector<int32_t> got = test::to_host_i32(*ops_, out);
  EXPECT_GE(got[0], 0);
  EXPECT_LT(got[0], vocab);
  EXPECT_EQ(got[1], -1);
  cuda::sample({gl, u, out, 1.0f, 10, 1.0f}, ops_->cuda_stream());  // top-k by selection flags it too
  EXPECT_EQ(test::to_host_i32(*ops_, out)[1], -1);
  Tensor single = test::to_device(*ops_, {0.25f, -2.0f}, dt, {m, 1});  // a one-token vocabulary
  cuda::sample({single, u, out, 1.0f, 0, 0.5f}, ops_->cuda_stream());
  EXPECT_EQ(test::to_host_i32(*ops_, out), (std::vector<int32_t>{0, 0}));
  EXPECT_THROW(cuda::sample({gl, u, out, -1.0f, 0, 1.0f}, ops_->cuda_stream()), Error);
  EXPECT_THROW(cuda::sample({gl, u, out, 1.0f, 0, 0.0f}, ops_->cuda_stream()), Error);
  EXPECT_THROW(cuda::sample({gl, u, out, 1.0f, -1, 1.0f}, ops_->cuda_stream()), Error);
}

// CudaOps::sample_rows, the entry the generation loop uses: several rows at once, then more rows
// than before (its buffers grow), greedy and sampled (peaked and flat rows: top-p from the
// candidates, or the sort after them), equal to the reference cpu::sample_row on the same logits
// and uniforms; a NaN row is an error naming NaN.
TEST_P(CudaSampling, SampleRowsMatchesReferenceAndGrows) {
  const DType dt = GetParam();
  const int64_t vocab = 3001;
  const SampleSpec specs[] = {{0.0f, 0, 1.0f}, {0.8f, 40, 0.9f}, {1.3f, 0, 1.0f}, {1.0f, 0, 0.9f}};
  uint32_t seed = 900;
  for (int64_t m : {1, 3, 9}) {
    for (const SampleSpec& spec : specs) {
      std::vector<float> logits = test::round_to(test::random_vec(m * vocab, ++seed, -4.0f, 4.0f), dt);
      for (int64_t r = 0; r < m; r += 2) {  // even rows peaked (their top-p nucleus within the best 256)
        for (int64_t j = 0; j < 4; ++j) logits[r * vocab + (r * 53 + j * 211) % vocab] = 11.0f - float(j);
      }
      std::mt19937_64 rng(seed);
      std::vector<double> u(m);
      for (double& x : u) x = static_cast<float>(std::generate_canonical<double, 53>(rng));  // exact in f32
      cpu::SampleScratch scratch;
      std::vector<int32_t> want(m);
      for (int64_t r = 0; r < m; ++r) want[r] = cpu::sample_row(logits.data() + r * vocab, vocab, spec, u[r], scratch);
      const Tensor gl = test::to_device(*ops_, logits, dt, {m, vocab});
      EXPECT_EQ(ops_->sample_rows(gl, spec, u), want) << "m " << m << " temperature " << spec.temperature;
    }
  }
  std::vector<float> bad = test::random_vec(2 * vocab, 7);
  bad[vocab + 5] = std::numeric_limits<float>::quiet_NaN();
  const Tensor gbad = test::to_device(*ops_, bad, dt, {2, vocab});
  // Greedy (the argmax), top-p (the candidates, then the sort for the flat row 0) and temperature
  // alone: every path names the NaN.
  for (const SampleSpec& spec : {SampleSpec{}, SampleSpec{1.0f, 0, 0.9f}, SampleSpec{1.0f, 0, 1.0f}}) {
    EXPECT_THROW(
        {
          try {
            ops_->sample_rows(gbad, spec, {0.5, 0.5});
          } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos) << e.what();
            throw;
          }
        },
        Error)
        << "temperature " << spec.temperature << " top_p " << spec.top_p;
  }
}

// CudaOps::top_k_rows, what each rank hands to the all-gather of candidates at T > 1 (greedy is
// k = 1 at temperature 0, the argmax reduction; else the selection for k <= 1024 or the sort, each
// run both ways): pairs and NaN flag equal, float for
// float, to CpuOps::top_k_rows on the same (dtype-rounded) logits, with ties at the top, an all
// -inf row, a NaN row, k above the row width, and the output buffer growing between calls; the
// mass (temperature > 0) equal up to f64 summation order.
TEST_P(CudaSampling, TopKRowsMatchesReference) {
  const DType dt = GetParam();
  const cuda::ScopedSwitch gpu_top_k(cuda::gpu_top_k_enabled, cuda::set_gpu_top_k, true);  // whatever GQA_GPU_TOP_K says
  for (bool select : {true, false}) {  // k <= 1024 by selection (the default) or by the sort
    const cuda::ScopedSwitch how(cuda::top_k_select_enabled, cuda::set_top_k_select, select);
    uint32_t seed = 1200;
    for (int64_t m : {1, 5, 16}) {
      for (int64_t n : {7, 3001, 16032}) {
        for (int64_t k : {1, 2, 50, 1024, 1500}) {  // k <= 1024: selection (top_k_select.cu); 1500: the sort
          for (float temperature : {0.0f, 0.7f}) {
            std::vector<float> logits = test::round_to(test::random_vec(m * n, ++seed, -4.0f, 4.0f), dt);
            for (auto& x : logits) x = std::round(x * 8.0f) / 8.0f;  // coarse: many ties (exact in bf16)
            logits[(m - 1) * n + n - 1] = 9.0f;                      // the last row's best is its last column
            if (m > 1) logits[n + n / 2] = logits[n + n / 3] = 9.0f;  // row 1: a tie at the top
            if (m > 2) {
              for (int64_t j = 0; j < n; ++j) logits[2 * n + j] = -std::numeric_limits<float>::infinity();
            }
            if (m > 3) logits[3 * n + 1] = std::numeric_limits<float>::quiet_NaN();
            if (m > 4) {  // row 4: -0.0 before +0.0 at the top ties (the sort must not order them by sign)
              for (int64_t j = 0; j < n; ++j) logits[4 * n + j] = std::min(logits[4 * n + j], -1.0f);
              logits[4 * n] = -0.0f;
              logits[4 * n + n - 1] = 0.0f;
            }
            std::vector<float> got;
            EXPECT_EQ(top_k_row_diffs(logits, dt, m, n, k, temperature, &got), 0)
                << "m " << m << " n " << n << " k " << k << " temperature " << temperature
                << (select ? " selection" : " sort");
            if (m > 3 && !got.empty()) {
              EXPECT_EQ(got[3 * top_k_row_width(k) + 2 * k], 1.0f) << "the NaN row is flagged";
            }
          }
        }
      }
    }
  }
  EXPECT_THROW(ops_->top_k_rows(test::to_device(*ops_, {1.0f, 2.0f}, dt, {1, 2}), 0, 0.0f), Error);
}

// The selection on a few shapes (ties across a tile boundary, k = n - 1, k = 1024, n < k): small
// enough for gpu-check to run under compute-sanitizer racecheck (shared-memory hazards).
TEST_P(CudaSampling, TopKSelectFewShapes) {
  const DType dt = GetParam();
  const cuda::ScopedSwitch gpu_top_k(cuda::gpu_top_k_enabled, cuda::set_gpu_top_k, true);
  const cuda::ScopedSwitch select(cuda::top_k_select_enabled, cuda::set_top_k_select, true);
  uint32_t seed = 1400;
  for (const auto& [n, k] : {std::pair<int64_t, int64_t>{7, 3}, {1025, 1024}, {2049, 513}, {5000, 1024}, {300, 1000}}) {
    for (float temperature : {0.0f, 0.5f}) {
      const int64_t m = 2;
      std::vector<float> logits = test::round_to(test::random_vec(m * n, ++seed, -2.0f, 2.0f), dt);
      for (int64_t j = 0; j < n; ++j) logits[n + j] = std::round(logits[n + j]);  // row 1: a few values, many ties
      EXPECT_EQ(top_k_row_diffs(logits, dt, m, n, k, temperature), 0)
          << "n " << n << " k " << k << " temperature " << temperature;
    }
  }
}

// GQA_GPU_TOP_K=0: the rows come from the CPU reference on the downloaded logits, bit for bit.
TEST_P(CudaSampling, TopKRowsHostFallbackIsTheReference) {
  const DType dt = GetParam();
  cpu::CpuOps ref;
  const int64_t m = 3, n = 3001, k = 20;
  std::vector<float> logits = test::round_to(test::random_vec(m * n, 1300, -4.0f, 4.0f), dt);
  logits[n + 7] = std::numeric_limits<float>::quiet_NaN();
  const Tensor host = test::host_view(logits, {m, n});
  const cuda::ScopedSwitch host_top_k(cuda::gpu_top_k_enabled, cuda::set_gpu_top_k, false);
  for (float temperature : {0.0f, 0.8f}) {
    const std::vector<float> want = ref.top_k_rows(host, k, temperature);
    const std::vector<float> got = ops_->top_k_rows(test::to_device(*ops_, logits, dt, {m, n}), k, temperature);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << "float " << i << " temperature " << temperature;
  }
}

INSTANTIATE_TEST_SUITE_P(AllDtypes, CudaSampling, ::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace gqa
