// Helpers shared by the decode-GEMV tests (test_gemv.cpp, test_gemv_mma.cpp, ...): the fp64
// reference of y = x w^T (+ b), NaN-poisoned device outputs, random inputs rounded to a dtype, the
// Gemm::run case check (against the reference and cuBLAS), the NaN row/column check and the
// PDL / CUDA-graph check of Gemm::run.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/pdl.h"
#include "tests/cuda/cuda_test_util.h"

namespace gqa::test::gemv {

// ||out - ref|| / ||ref|| bound of the 16-bit GEMV tests.
constexpr double kTol = 1e-2;

// The decode-GEMV tests' fixture: parameterised by dtype (dt_), skipped without a GPU.
class DtypeTest : public ::testing::TestWithParam<DType> {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
    dt_ = GetParam();
  }
  DType dt_ = DType::kBF16;
};

// The DtypeTest suites' test names: the dtype's ("bf16", "f16").
inline std::string dtype_param_name(const ::testing::TestParamInfo<DType>& info) { return dtype_name(info.param); }

// The per-thread launches gemv_tuning() can force with g warps per row group (gemv.h), each with a
// label for failure messages: the default step (per_thread: with g = 0 the plan's launch, which the
// default bulk-copy build would otherwise take), the deep step and the build without a register
// budget (the last two at n <= 2; larger n take the default step).
struct TunedLaunch {
  cuda::GemvTuning tune;
  const char* label;
};
inline std::vector<TunedLaunch> tuned_launches(int g) {
  return {{{.group_warps = g, .per_thread = true}, ""},
          {{.group_warps = g, .deep = true}, " deep"},
          {{.group_warps = g, .no_budget = true}, " no budget"}};
}

// y[i, j] = sum_e x[i, e] w[j, e] (+ b[j]), in double, rounded to f32 once.
inline std::vector<float> reference(const std::vector<float>& x, const std::vector<float>& w,
                                    const std::vector<float>* b, int64_t n, int64_t m, int64_t k) {
  std::vector<float> y(n * m);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < m; ++j) {
      double s = b ? (*b)[j] : 0.0;
      const float* xr = &x[i * k];
      const float* wr = &w[j * k];
      for (int64_t e = 0; e < k; ++e) s += static_cast<double>(xr[e]) * wr[e];
      y[i * m + j] = static_cast<float>(s);
    }
  }
  return y;
}

// SiLU(gate) * up of the reference product y = x w^T (w = [gate; up], y = [n, 2f]) -> [n, f].
inline std::vector<float> swiglu_of(const std::vector<float>& y, int64_t n, int64_t f) {
  std::vector<float> act(n * f);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < f; ++j) {
      const double g = y[i * 2 * f + j], u = y[i * 2 * f + f + j];
      act[i * f + j] = static_cast<float>(g / (1.0 + std::exp(-g)) * u);
    }
  }
  return act;
}

// A device tensor filled with 0xff bytes (NaN in every float dtype).
inline Tensor poisoned(DType dt, Shape shape) {
  Tensor t = cuda::device_alloc(dt, std::move(shape));
  cuda::fill_bytes(t, 0xff);
  return t;
}

// `count` random values rounded to dt (so the reference sees what the kernel sees).
inline std::vector<float> input(size_t count, uint32_t seed, DType dt) {
  return round_to(random_vec(count, seed), dt);
}

// cuda::gemv on the default stream: the `run` of expect_gemv_matches_reference for the plain GEMV.
inline void run_gemv(const Tensor& x, const Tensor& w, const Tensor& y) { cuda::gemv(x, w, y, nullptr); }

// y = x w^T by a GEMV entry point for every n of `ns` and (m, k) of `shapes` (random inputs
// rounded to dt, seeds from `seed` on) against the fp64 reference, into a NaN-poisoned y;
// supported(x, w, y) must accept each call first and run(x, w, y) makes y.
template <class Supported, class Run>
void expect_gemv_matches_reference(DType dt, const std::vector<int64_t>& ns,
                                   const std::vector<std::pair<int64_t, int64_t>>& shapes, uint32_t seed,
                                   const Supported& supported, const Run& run) {
  for (int64_t n : ns) {
    for (const auto& [m, k] : shapes) {
      const std::vector<float> x = input(n * k, seed++, dt), w = input(m * k, seed++, dt);
      const std::vector<float> ref = reference(x, w, nullptr, n, m, k);
      Tensor gx = upload(x, dt, {n, k}), gw = upload(w, dt, {m, k}), gy = poisoned(dt, {n, m});
      ASSERT_TRUE(supported(gx, gw, gy)) << "n " << n << " m " << m << " k " << k;
      run(gx, gw, gy);
      EXPECT_LT(rel_error(download(gy), ref), kTol) << "n " << n << " m " << m << " k " << k;
    }
  }
}

// act = SwiGLU of x [gate; up]^T through cuda::gemv_swiglu for every n of `ns` and (f, k) of
// `shapes` (w = [2f, k]; seeds from `seed` on) against the fp64 reference, into a NaN-poisoned act.
inline void expect_gemv_swiglu_matches_reference(DType dt, const std::vector<int64_t>& ns,
                                                 const std::vector<std::pair<int64_t, int64_t>>& shapes,
                                                 uint32_t seed) {
  for (int64_t n : ns) {
    for (const auto& [f, k] : shapes) {
      const std::vector<float> x = input(n * k, seed++, dt), w = input(2 * f * k, seed++, dt);
      const std::vector<float> ref = swiglu_of(reference(x, w, nullptr, n, 2 * f, k), n, f);
      Tensor gx = upload(x, dt, {n, k}), gw = upload(w, dt, {2 * f, k}), act = poisoned(dt, {n, f});
      cuda::gemv_swiglu(gx, gw, act, nullptr);
      EXPECT_LT(rel_error(download(act), ref), kTol) << "n " << n << " f " << f << " k " << k;
    }
  }
}

// A GEMV build's shared cases (test_gemv_bulk.cpp, test_gemv_ring.cpp: each under its own
// ScopedGemvTuning): the plain GEMV at n = 1, 2, 3, 5, 8 on shapes from one chunk per row to the
// 70B shard's QKV, O, gate/up and down projections, rows not a multiple of a block's, and the
// SwiGLU epilogue at n = 1, 2, 4, 8.
inline void expect_gemv_build_matches_reference(DType dt) {
  expect_gemv_matches_reference(dt, {1, 2, 3, 5, 8},
                                {{37, 8}, {33, 1024}, {300, 4104}, {1280, 8192}, {8192, 1024}, {515, 3584}, {70, 28672}},
                                100, cuda::gemv_supported, run_gemv);
  expect_gemv_swiglu_matches_reference(dt, {1, 2, 4, 8}, {{1, 8}, {37, 64}, {500, 1024}, {3584, 8192}, {129, 4104}},
                                       300);
}

// One Gemm::run case: x = rows [x_offset, x_offset + n) of a bigger tensor; y_slice: y = rows
// [1, n + 1) of a bigger tensor.
struct GemmRunCase {
  int64_t n, k, m;
  bool bias;
  int64_t x_offset;
  bool y_slice;
};

// A case's device inputs, two NaN-poisoned outputs (y for the path under test, y_cublas for
// cuBLAS alone) and its fp64 reference; draws three seeds from `seed`.
struct GemmRunInputs {
  Tensor x, w, b, y, y_cublas;
  std::vector<float> ref;
};

inline GemmRunInputs gemm_run_inputs(const GemmRunCase& c, DType dt, uint32_t& seed) {
  const int64_t rows = c.n + c.x_offset;
  const std::vector<float> x_all = input(rows * c.k, seed++, dt), w = input(c.m * c.k, seed++, dt),
                           b = input(c.m, seed++, dt);
  const std::vector<float> x(x_all.begin() + c.x_offset * c.k, x_all.end());
  auto out = [&] {
    return c.y_slice ? poisoned(dt, {c.n + 1, c.m}).slice_rows(1, c.n + 1) : poisoned(dt, {c.n, c.m});
  };
  GemmRunInputs in;
  in.ref = reference(x, w, c.bias ? &b : nullptr, c.n, c.m, c.k);
  in.x = upload(x_all, dt, {rows, c.k}).slice_rows(c.x_offset, rows);
  in.w = upload(w, dt, {c.m, c.k});
  in.b = c.bias ? upload(b, dt, {c.m}) : Tensor();
  in.y = out();
  in.y_cublas = out();
  return in;
}

// gemm.run into y and cublas_only.run into y_cublas: each against the reference, and the two
// against each other.
inline void expect_gemm_run_matches(cuda::Gemm& gemm, cuda::Gemm& cublas_only, const GemmRunCase& c,
                                    const GemmRunInputs& in) {
  gemm.run({in.x, in.w, in.b, in.y}, nullptr);
  cublas_only.run({in.x, in.w, in.b, in.y_cublas}, nullptr);
  const std::vector<float> got = download(in.y), got_cublas = download(in.y_cublas);
  EXPECT_LT(rel_error(got, in.ref), kTol) << "n " << c.n << " k " << c.k << " m " << c.m << " bias " << c.bias;
  EXPECT_LT(rel_error(got_cublas, in.ref), kTol) << "cuBLAS: n " << c.n << " k " << c.k << " m " << c.m;
  EXPECT_LT(rel_error(got, got_cublas), kTol) << "against cuBLAS: n " << c.n << " k " << c.k << " m " << c.m;
}

// got (n x m) is NaN in all of row nan_row and column nan_col, and close to clean elsewhere.
inline void expect_nan_row_and_column(const std::vector<float>& got, const std::vector<float>& clean, int64_t n,
                                      int64_t m, int64_t nan_row, int64_t nan_col) {
  std::vector<float> got_clean, ref_clean;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < m; ++j) {
      const float v = got[i * m + j];
      if (i == nan_row || j == nan_col) {
        EXPECT_TRUE(std::isnan(v)) << "y[" << i << ", " << j << "] = " << v;
      } else {
        got_clean.push_back(v);
        ref_clean.push_back(clean[i * m + j]);
      }
    }
  }
  EXPECT_LT(rel_error(got_clean, ref_clean), kTol) << "NaN in x row " << nan_row;
}

// gemm.run(x w^T + b) against ref with PDL off and on, each directly and replayed from a CUDA
// graph captured on a stream of its own; the PDL setting is restored afterwards.
inline void expect_gemm_pdl_and_graph(cuda::Gemm& gemm, const Tensor& x, const Tensor& w, const Tensor& b,
                                      const std::vector<float>& ref) {
  const DType dt = x.dtype();
  const Shape y_shape = {x.dim(0), w.dim(0)};
  for (bool pdl : {false, true}) {
    const cuda::ScopedSwitch pdl_on(cuda::pdl_enabled, cuda::set_pdl, pdl);
    Tensor y = poisoned(dt, y_shape);
    gemm.run({x, w, b, y}, nullptr);
    EXPECT_LT(rel_error(download(y), ref), kTol) << "pdl " << pdl;

    cudaStream_t stream = nullptr;
    GQA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    Tensor yg = poisoned(dt, y_shape);
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    GQA_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    gemm.run({x, w, b, yg}, stream);
    GQA_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
    GQA_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    GQA_CUDA_CHECK(cudaGraphLaunch(exec, stream));
    GQA_CUDA_CHECK(cudaStreamSynchronize(stream));
    EXPECT_LT(rel_error(download(yg), ref), kTol) << "graph, pdl " << pdl;
    GQA_CUDA_CHECK(cudaGraphExecDestroy(exec));
    GQA_CUDA_CHECK(cudaGraphDestroy(graph));
    GQA_CUDA_CHECK(cudaStreamDestroy(stream));
  }
}

// expect_gemm_pdl_and_graph on y = x w^T + b with random x [n, k], w [m, k], b [m] of dtype dt
// (seeds seed, seed + 1, seed + 2) against the fp64 reference.
inline void expect_gemm_pdl_and_graph_on_random(cuda::Gemm& gemm, DType dt, int64_t n, int64_t k, int64_t m,
                                                uint32_t seed) {
  const std::vector<float> x = input(n * k, seed, dt), w = input(m * k, seed + 1, dt), b = input(m, seed + 2, dt);
  const std::vector<float> ref = reference(x, w, &b, n, m, k);
  expect_gemm_pdl_and_graph(gemm, upload(x, dt, {n, k}), upload(w, dt, {m, k}), upload(b, dt, {m}), ref);
}

}  // namespace gqa::test::gemv
