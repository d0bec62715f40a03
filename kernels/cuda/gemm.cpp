#include "kernels/cuda/gemm.h"

#include <cstdint>

#include "kernels/cuda/bias_add.h"
#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/gemv_mma.h"

namespace gqa::cuda {
namespace {

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::kF32: return CUDA_R_32F;
    case DType::kF16: return CUDA_R_16F;
    case DType::kBF16: return CUDA_R_16BF;
    default: GQA_FAIL("cuda matmul: unsupported dtype " << dtype_name(t));
  }
}

// Largest power of two (<= 256, cuBLASLt's default assumption) dividing the address.
uint32_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  uint32_t align = 256;
  while (align > 1 && a % align != 0) align /= 2;
  return align;
}

}  // namespace

struct Gemm::Plan {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool legacy = false;  // cuBLASLt has no algorithm for this key: cublasGemmEx instead
  ~Plan() {  // no throw from a destructor: statuses are ignored
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

Gemm::Gemm(size_t workspace_bytes, bool force_legacy) : workspace_bytes_(workspace_bytes), force_legacy_(force_legacy) {
  GQA_CUBLAS_CHECK(cublasLtCreate(&handle_));
  if (workspace_bytes_ > 0) {
    const cudaError_t err = cudaMalloc(&workspace_, workspace_bytes_);
    if (err != cudaSuccess) {
      cublasLtDestroy(handle_);
      throw_cuda_error(err, "cudaMalloc(&workspace_, workspace_bytes_)", __FILE__, __LINE__);
    }
  }
}

Gemm::~Gemm() {
  // (teardown: statuses ignored, a destructor must not throw)
  plans_.clear();
  if (legacy_) cublasDestroy(legacy_);
  if (workspace_) cudaFree(workspace_);
  if (handle_) cublasLtDestroy(handle_);
}

// Builds (once per key) the TN GEMM descriptors and asks the heuristic for one algorithm.
const Gemm::Plan& Gemm::plan_for(const Key& key) {
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;
  const auto [dtype, n, m, k, align_x, align_w, align_y] = key;
  const cudaDataType_t t = cuda_type(static_cast<DType>(dtype));
  auto p = std::make_unique<Plan>();
  GQA_CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
  GQA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof(trans_a)));
  GQA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof(trans_b)));
  GQA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->a, t, k, m, k));  // W as stored: k x m, ld k
  GQA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->b, t, k, n, k));  // x^T: k x n, ld k
  GQA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->c, t, m, n, m));  // y^T: m x n, ld m

  cublasLtMatmulPreference_t pref = nullptr;
  GQA_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  std::unique_ptr<void, void (*)(void*)> pref_guard(
      pref, [](void* q) { cublasLtMatmulPreferenceDestroy(static_cast<cublasLtMatmulPreference_t>(q)); });
  const uint64_t ws = workspace_bytes_;
  GQA_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)));
  // A = W, B = x, C = D = y: tell the heuristic the real pointer alignments (row slices of a
  // tensor need not be 256-byte aligned), so it never picks an algorithm that would fault.
  const uint32_t aligns[4] = {align_w, align_x, align_y, align_y};
  const cublasLtMatmulPreferenceAttributes_t attrs[4] = {
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
  for (int i = 0; i < 4; ++i) {
    GQA_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attrs[i], &aligns[i], sizeof(aligns[i])));
  }
  cublasLtMatmulHeuristicResult_t result{};
  int returned = 0;
  const cublasStatus_t st =
      cublasLtMatmulAlgoGetHeuristic(handle_, p->op, p->a, p->b, p->c, p->c, pref, 1, &result, &returned);
  if (force_legacy_ || st == CUBLAS_STATUS_NOT_SUPPORTED || (st == CUBLAS_STATUS_SUCCESS && returned == 0)) {
    p->legacy = true;  // e.g. a 2-byte-aligned bf16 row slice: cublasGemmEx takes any alignment
    return *plans_.emplace(key, std::move(p)).first->second;
  }
  if (st != CUBLAS_STATUS_SUCCESS) throw_cublas_error(st, "cublasLtMatmulAlgoGetHeuristic", __FILE__, __LINE__);
  p->algo = result.algo;
  return *plans_.emplace(key, std::move(p)).first->second;
}

void Gemm::run(const MatmulArgs& a, cudaStream_t stream) {
  constexpr const char* kOp = "cuda matmul";
  detail::expect_ndim(a.x, 2, kOp, "x");
  detail::expect_float(a.x, kOp, "x");
  detail::expect_ndim(a.w, 2, kOp, "w");
  const DType dt = a.x.dtype();
  const int64_t n = a.x.dim(0), k = a.x.dim(1), m = a.w.dim(0);
  detail::expect(a.w, dt, {m, k}, kOp, "w");
  detail::expect(a.y, dt, {n, m}, kOp, "y");
  if (a.bias.defined()) detail::expect(a.bias, dt, {m}, kOp, "bias");
  GQA_CHECK(!overlaps(a.y, a.x) && !overlaps(a.y, a.w) && !overlaps(a.y, a.bias),
            kOp << ": output y " << shape_str(a.y.shape()) << " overlaps an input");
  if (n == 0 || m == 0) return;
  if (k == 0) {
    GQA_CUDA_CHECK(cudaMemsetAsync(a.y.data(), 0, a.y.nbytes(), stream));
  } else if (use_gemv() && gemv_supported(a.x, a.w, a.y)) {
    gemv(a.x, a.w, a.y, stream);  // decode-sized: streams W at close to copy bandwidth
  } else if (use_gemv() && gemv_mma_enabled() && gemv_mma_supported(a.x, a.w, a.y)) {
    gemv_mma(a.x, a.w, a.y, stream);  // decode batches 9..16: the same stream of W, on tensor cores
  } else {
    const Key key{static_cast<int>(dt), n, m, k, alignment_of(a.x.data()), alignment_of(a.w.data()),
                  alignment_of(a.y.data())};
    const Plan& p = plan_for(key);
    const float alpha = 1.0f, beta = 0.0f;  // beta = 0: y is not read, so stale NaNs cannot leak
    if (p.legacy) {
      run_legacy(a, n, m, k, stream);
    } else {
      GQA_CUBLAS_CHECK(cublasLtMatmul(handle_, p.op, &alpha, a.w.data(), p.a, a.x.data(), p.b, &beta, a.y.data(),
                                      p.c, a.y.data(), p.c, &p.algo, workspace_, workspace_bytes_, stream));
    }
  }
  if (a.bias.defined()) bias_add({a.bias, a.y}, stream);
}

// The same TN GEMM through the classic API. Its handle shares the workspace (same stream, one
// GEMM at a time), so it allocates nothing per call and can be recorded into a graph.
void Gemm::run_legacy(const MatmulArgs& a, int64_t n, int64_t m, int64_t k, cudaStream_t stream) {
  GQA_CHECK(n <= INT32_MAX && m <= INT32_MAX && k <= INT32_MAX,
            "cuda matmul: dimensions exceed cublasGemmEx's int range: n " << n << ", m " << m << ", k " << k);
  if (legacy_ == nullptr) GQA_CUBLAS_CHECK(cublasCreate(&legacy_));
  // cublasSetStream resets the handle to cuBLAS's own workspace pool: ours is set after it.
  GQA_CUBLAS_CHECK(cublasSetStream(legacy_, stream));
  if (workspace_ != nullptr) GQA_CUBLAS_CHECK(cublasSetWorkspace(legacy_, workspace_, workspace_bytes_));
  const cudaDataType_t t = cuda_type(a.x.dtype());
  const float alpha = 1.0f, beta = 0.0f;
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
  GQA_CUBLAS_CHECK(cublasGemmEx(legacy_, CUBLAS_OP_T, CUBLAS_OP_N, mi, ni, ki, &alpha, a.w.data(), t, ki, a.x.data(),
                                t, ki, &beta, a.y.data(), t, mi, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace gqa::cuda
