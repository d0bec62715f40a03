// One thread block per token: the row is copied (or zeroed) with a block-strided loop.
#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/embedding.h"

namespace gqa::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void embedding_kernel(const int32_t* ids, const T* table, T* out, long long vocab_begin,
                                 long long vocab_local, long long d) {
  pdl_wait();
  const long long t = blockIdx.x;
  const long long row = static_cast<long long>(ids[t]) - vocab_begin;
  const bool mine = row >= 0 && row < vocab_local;
  T* dst = out + t * d;
  for (long long i = threadIdx.x; i < d; i += blockDim.x) dst[i] = mine ? table[row * d + i] : store_f32<T>(0.0f);
}

template <typename T>
void launch(const EmbeddingArgs& a, cudaStream_t stream) {
  const long long n = a.ids.dim(0);
  if (n == 0 || a.table.dim(1) == 0) return;
  launch_pdl("embedding_kernel", embedding_kernel<T>, static_cast<unsigned int>(n), kThreads, 0, stream,
             a.ids.data_as<int32_t>(), a.table.data_as<T>(), a.out.data_as<T>(), a.vocab_begin, a.table.dim(0),
             a.table.dim(1));
}

}  // namespace

void embedding(const EmbeddingArgs& a, cudaStream_t stream) {
  constexpr const char* kOp = "cuda embedding";
  detail::expect_ndim(a.ids, 1, kOp, "ids");
  GQA_CHECK(a.ids.dtype() == DType::kI32, kOp << ": ids must be i32, got " << dtype_name(a.ids.dtype()));
  detail::expect_ndim(a.table, 2, kOp, "table");
  detail::expect_float(a.table, kOp, "table");
  detail::expect(a.out, a.table.dtype(), {a.ids.dim(0), a.table.dim(1)}, kOp, "out");
  GQA_CHECK(a.vocab_begin >= 0, kOp << ": negative vocab_begin " << a.vocab_begin);
  GQA_CHECK(a.ids.dim(0) <= 0x7fffffffLL, kOp << ": " << a.ids.dim(0) << " tokens exceed one grid");
  GQA_CUDA_DISPATCH_FLOAT(a.table.dtype(), kOp, launch, a, stream);
}

}  // namespace gqa::cuda
