// GEMMs on the GPU through cuBLASLt: y[n, m] = x[n, k] W[m, k]^T (+ bias[m]), W in
// torch.nn.Linear layout. f32, f16 or bf16 operands (x, w, y, bias one dtype), fp32 accumulation
// (CUBLAS_COMPUTE_32F: no TF32 for f32, so f32 results track the CPU reference tightly), output
// rounded once to the dtype. The bias is added by a separate kernel after the GEMM. Where
// cuBLASLt offers no algorithm (e.g. a 2-byte-aligned row slice of a bf16 output), the same GEMM
// goes through cublasGemmEx, which takes any alignment. Decode-sized bf16/f16 GEMMs skip cuBLAS for
// bandwidth-bound kernels: n <= 8 rows of x (gemv_supported) the CUDA-core kernel of gemv.cu,
// 9 <= n <= 16 (gemv_mma_supported) the tensor-core one of gemv_mma.cu.
//
// Row-major y = x W^T is, in cuBLAS's column-major terms, Y^T (m x n) = op(A) B with A = W read
// as a k x m column-major matrix (transposed) and B = x^T read as k x n: the "TN" GEMM.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "kernels/ops.h"

namespace gqa::cuda {

class Gemm {
 public:
  // force_legacy (for tests): every GEMM through cublasGemmEx, the fallback path.
  explicit Gemm(size_t workspace_bytes = size_t{32} << 20, bool force_legacy = false);
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  // Throws gqa::Error for bad shapes/dtypes or an overlapping output.
  void run(const MatmulArgs& a, cudaStream_t stream);

  // On by default (off under force_legacy): GEMMs gemv_supported serves go through gemv, those
  // gemv_mma_supported serves through gemv_mma when gemv_mma_enabled() (opt-in, gemv_mma.h).
  // Tests and benchmarks turn it off to compare with cuBLAS.
  void set_use_gemv(bool on) { use_gemv_ = on; }
  bool use_gemv() const { return use_gemv_ && !force_legacy_; }

 private:
  struct Plan;  // descriptors and the chosen algorithm for one shape (gemm.cpp)
  // dtype, n, m, k, alignment of x, w, y in bytes
  using Key = std::tuple<int, int64_t, int64_t, int64_t, uint32_t, uint32_t, uint32_t>;
  const Plan& plan_for(const Key& key);
  void run_legacy(const MatmulArgs& a, int64_t n, int64_t m, int64_t k, cudaStream_t stream);

  cublasLtHandle_t handle_ = nullptr;
  cublasHandle_t legacy_ = nullptr;  // made on the first GEMM cuBLASLt cannot serve
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  bool force_legacy_ = false;
  bool use_gemv_ = true;
  std::map<Key, std::unique_ptr<Plan>> plans_;
};

}  // namespace gqa::cuda
