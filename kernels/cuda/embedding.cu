// One thread block per token: the row is copied (or zeroed) by all its threads, each loading
// kUnroll accesses into registers before storing them (a loop that stored each element before
// loading the next paid one memory round trip per element: out and table may alias as far as
// the compiler knows). Rows whose width and pointers allow it move 16 bytes per access.
#include <cstdint>

#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/embedding.h"

namespace gqa::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kUnroll = 4;  // accesses in flight per thread: a 16 KB row is one round of loads

// kN elements of T moved by one access (16 bytes when kN = 16 / sizeof(T)).
template <typename T, int kN>
struct alignas(sizeof(T) * kN) Pack {
  T e[kN];
};

// d is a multiple of kN; table and out rows are kN-element aligned.
template <typename T, int kN>
__global__ void embedding_kernel(const int32_t* ids, const T* table, T* out, long long vocab_begin,
                                 long long vocab_local, long long d) {
  using P = Pack<T, kN>;
  pdl_wait();
  const long long t = blockIdx.x;
  const long long row = static_cast<long long>(ids[t]) - vocab_begin;
  const bool mine = row >= 0 && row < vocab_local;
  const long long accesses = d / kN;
  const P* src = reinterpret_cast<const P*>(table + (mine ? row : 0) * d);
  P* dst = reinterpret_cast<P*>(out + t * d);
  P zero;
#pragma unroll
  for (int e = 0; e < kN; ++e) zero.e[e] = store_f32<T>(0.0f);
  for (long long base = threadIdx.x; base < accesses; base += static_cast<long long>(kUnroll) * blockDim.x) {
    P v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const long long i = base + static_cast<long long>(u) * blockDim.x;
      if (i < accesses) v[u] = mine ? src[i] : zero;
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const long long i = base + static_cast<long long>(u) * blockDim.x;
      if (i < accesses) dst[i] = v[u];
    }
  }
}

template <typename T, int kN>
void launch_with(const EmbeddingArgs& a, cudaStream_t stream) {
  launch_pdl("embedding_kernel", embedding_kernel<T, kN>, static_cast<unsigned int>(a.ids.dim(0)), kThreads, 0, stream,
             a.ids.data_as<int32_t>(), a.table.data_as<T>(), a.out.data_as<T>(), a.vocab_begin, a.table.dim(0),
             a.table.dim(1));
}

template <typename T>
void launch(const EmbeddingArgs& a, cudaStream_t stream) {
  const long long n = a.ids.dim(0), d = a.table.dim(1);
  if (n == 0 || d == 0) return;
  constexpr int kVec = 16 / static_cast<int>(sizeof(T));
  const auto aligned = [](const Tensor& x) { return reinterpret_cast<uintptr_t>(x.data_as<T>()) % 16 == 0; };
  if (d % kVec == 0 && aligned(a.table) && aligned(a.out)) {
    launch_with<T, kVec>(a, stream);
  } else {
    launch_with<T, 1>(a, stream);
  }
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
