// One thread block per token copies its K row and V row (hkv * hd elements each).
#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/kv_write.h"
#include "kernels/cuda/device_require.cuh"

namespace gqa::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void kv_write_kernel(const T* k, const T* v, T* k_cache, T* v_cache, const int32_t* slots,
                                long long num_slots, long long row) {
  const long long t = blockIdx.x;
  const long long slot = slots[t];
  GQA_DEVICE_REQUIRE(slot >= 0 && slot < num_slots, "kv_write: a slot outside the KV cache");
  for (long long i = threadIdx.x; i < row; i += blockDim.x) {
    k_cache[slot * row + i] = k[t * row + i];
    v_cache[slot * row + i] = v[t * row + i];
  }
}

template <typename T>
void launch(const KvWriteArgs& a, cudaStream_t stream) {
  const long long n = a.k.dim(0), row = a.k.dim(1) * a.k.dim(2);
  if (n == 0 || row == 0) return;
  const long long num_slots = a.k_cache.dim(0) * a.k_cache.dim(1);
  kv_write_kernel<T><<<static_cast<unsigned int>(n), kThreads, 0, stream>>>(
      a.k.data_as<T>(), a.v.data_as<T>(), a.k_cache.data_as<T>(), a.v_cache.data_as<T>(), a.slots.data_as<int32_t>(),
      num_slots, row);
  GQA_CUDA_LAUNCH_CHECK("kv_write_kernel");
}

}  // namespace

void kv_write(const KvWriteArgs& a, cudaStream_t stream) {
  constexpr const char* kOp = "cuda kv_write";
  detail::expect_kv_write_operands(a.k, a.v, a.k_cache, a.v_cache, a.slots, kOp);
  const int64_t n = a.k.dim(0);
  GQA_CHECK(n <= 0x7fffffffLL, kOp << ": " << n << " tokens exceed one grid");
  GQA_CUDA_DISPATCH_FLOAT(a.k.dtype(), kOp, launch, a, stream);
}

}  // namespace gqa::cuda
