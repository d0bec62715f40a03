// One thread block per token. Threads first walk the (head, i) rotation pairs of the token's q
// and k heads (k pairs are stored both in place and into the cache slot), then copy its V row.
// cos/sin are recomputed per head with the same expressions as rope.cu (see rope_kv_write.h).
#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/rope_kv_write.h"

namespace gqa::cuda {
namespace {

constexpr int kThreads = 128;

template <typename T>
__global__ void rope_kv_write_kernel(T* q, T* k, const T* v, T* k_cache, T* v_cache, const int32_t* slots,
                                     const int32_t* positions, const float* inv_freq, int hq, int hkv, int half,
                                     long long num_slots, float attention_scaling) {
  const long long t = blockIdx.x;
  const int p = positions[t];
  if (p < 0) __trap();  // a corrupt step input: fail loudly rather than rotate by garbage
  const long long slot = slots[t];
  if (slot < 0 || slot >= num_slots) __trap();  // never write outside the cache
  const float pos = static_cast<float>(p);
  const long long hd = 2LL * half, kv_row = hkv * hd;
  T* q_row = q + t * hq * hd;
  T* k_row = k + t * kv_row;
  T* kc_row = k_cache + slot * kv_row;
  for (int idx = threadIdx.x; idx < (hq + hkv) * half; idx += blockDim.x) {
    const int h = idx / half, i = idx % half;
    const float angle = __fmul_rn(pos, inv_freq[i]);  // one f32 rounding, as in transformers
    const float c = cosf(angle) * attention_scaling;
    const float s = sinf(angle) * attention_scaling;
    const bool is_q = h < hq;
    T* x = is_q ? q_row + h * hd : k_row + (h - hq) * hd;
    const float x1 = load_f32(x[i]);
    const float x2 = load_f32(x[i + half]);
    const T y1 = store_f32<T>(x1 * c - x2 * s);
    const T y2 = store_f32<T>(x2 * c + x1 * s);
    x[i] = y1;
    x[i + half] = y2;
    if (!is_q) {
      T* dst = kc_row + (h - hq) * hd;
      dst[i] = y1;
      dst[i + half] = y2;
    }
  }
  const T* v_row = v + t * kv_row;
  T* vc_row = v_cache + slot * kv_row;
  for (long long i = threadIdx.x; i < kv_row; i += blockDim.x) vc_row[i] = v_row[i];
}

template <typename T>
void launch(const RopeKvWriteArgs& a, cudaStream_t stream) {
  const long long n = a.q.dim(0);
  const int hq = static_cast<int>(a.q.dim(1)), hkv = static_cast<int>(a.k.dim(1));
  const int half = static_cast<int>(a.q.dim(2) / 2);
  if (n == 0 || half == 0 || hq + hkv == 0) return;
  const long long num_slots = a.k_cache.dim(0) * a.k_cache.dim(1);
  rope_kv_write_kernel<T><<<static_cast<unsigned int>(n), kThreads, 0, stream>>>(
      a.q.data_as<T>(), a.k.data_as<T>(), a.v.data_as<T>(), a.k_cache.data_as<T>(), a.v_cache.data_as<T>(),
      a.slots.data_as<int32_t>(), a.positions.data_as<int32_t>(), a.inv_freq.data_as<float>(), hq, hkv, half,
      num_slots, a.attention_scaling);
  GQA_CUDA_LAUNCH_CHECK("rope_kv_write_kernel");
}

}  // namespace

void rope_kv_write(const RopeKvWriteArgs& a, cudaStream_t stream) {
  constexpr const char* kOp = "cuda rope_kv_write";
  detail::expect_ndim(a.q, 3, kOp, "q");
  detail::expect_float(a.q, kOp, "q");
  const DType t = a.q.dtype();
  const int64_t n = a.q.dim(0), hq = a.q.dim(1), hd = a.q.dim(2);
  GQA_CHECK(hd % 2 == 0, kOp << ": head_dim must be even, q is " << shape_str(a.q.shape()));
  detail::expect_ndim(a.k, 3, kOp, "k");
  const int64_t hkv = a.k.dim(1);
  detail::expect(a.k, t, {n, hkv, hd}, kOp, "k");  // q's token count, dtype and head_dim
  detail::expect_kv_write_operands(a.k, a.v, a.k_cache, a.v_cache, a.slots, kOp);
  detail::expect(a.positions, DType::kI32, {n}, kOp, "positions");
  detail::expect(a.inv_freq, DType::kF32, {hd / 2}, kOp, "inv_freq");
  GQA_CHECK(n <= 0x7fffffffLL && (hq + hkv) * hd <= 0x7fffffffLL,
            kOp << ": q " << shape_str(a.q.shape()) << " with k " << shape_str(a.k.shape()) << " too large");
  // Each element is read and written by one thread, so q and k may only be updated in place; a
  // cache overlapping a step input would be written while other blocks still read it.
  const Tensor* step[] = {&a.q, &a.k, &a.v};
  for (int i = 0; i < 3; ++i) {
    for (int j = i + 1; j < 3; ++j)
      GQA_CHECK(!detail::overlaps(*step[i], *step[j]), kOp << ": q, k and v must not overlap");
    GQA_CHECK(!detail::overlaps(*step[i], a.k_cache) && !detail::overlaps(*step[i], a.v_cache),
              kOp << ": the caches must not overlap q, k or v");
  }
  GQA_CUDA_DISPATCH_FLOAT(t, kOp, launch, a, stream);
}

}  // namespace gqa::cuda
