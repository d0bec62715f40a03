// Helpers shared by the decode-GEMV tests (test_gemv.cpp, test_gemv_mma.cpp): the fp64 reference
// of y = x w^T (+ b), NaN-poisoned device outputs, random inputs rounded to a dtype, and the
// PDL / CUDA-graph check of Gemm::run.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/gemm.h"
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

// gemm.run(x w^T + b) against ref with PDL off and on, each directly and replayed from a CUDA
// graph captured on a stream of its own; the PDL setting is restored afterwards.
inline void expect_gemm_pdl_and_graph(cuda::Gemm& gemm, const Tensor& x, const Tensor& w, const Tensor& b,
                                      const std::vector<float>& ref) {
  const DType dt = x.dtype();
  const Shape y_shape = {x.dim(0), w.dim(0)};
  const bool pdl_was = cuda::pdl_enabled();
  for (bool pdl : {false, true}) {
    cuda::set_pdl(pdl);
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
  cuda::set_pdl(pdl_was);
}

}  // namespace gqa::test::gemv
