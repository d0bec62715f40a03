// A GPU test fixture parameterised by dtype (bf16, f16, ...): a CudaOps of that dtype on device 0
// (the test skips without a GPU), random inputs rounded to the dtype (so the CPU twin sees what
// the GPU sees), uploads and downloads on its stream, and the CPU reference's ops.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_info.h"
#include "tests/cuda/cuda_test_util.h"

namespace gqa::test {

class CudaDtypeOpsTest : public ::testing::TestWithParam<DType> {
 protected:
  static constexpr double kTol = 1e-2;  // ||out - ref|| / ||ref|| for 16-bit operands
  static constexpr float kEps = 1e-5f;  // the RMSNorm epsilon the norm tests use
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
    dt_ = GetParam();
    gpu_ = std::make_unique<cuda::CudaOps>(0, dt_);
  }
  std::vector<float> input(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    return round_to(random_vec(n, seed, lo, hi), dt_);
  }
  Tensor dev(const std::vector<float>& v, Shape s) { return to_device(*gpu_, v, dt_, std::move(s)); }
  std::vector<float> host(const Tensor& t) { return to_host(*gpu_, t); }
  cudaStream_t stream() { return static_cast<cudaStream_t>(gpu_->stream()); }

  DType dt_ = DType::kBF16;
  std::unique_ptr<cuda::CudaOps> gpu_;
  cpu::CpuOps cpu_;
};

}  // namespace gqa::test
