// One thread block per token. Threads first walk the (head, i) rotation pairs of the token's q
// and k heads (k pairs are stored both in place and into the cache slot), then copy its V row.
// cos/sin are recomputed per head with the same expressions as rope.cu (see rope_kv_write.h).
#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/rope_kv_write.h"
#include "kernels/packed_qkv.h"

namespace gqa::cuda {
namespace {

constexpr int kThreads = 128;

// Row strides in elements. Unpacked: q_in == q_out and k_in == k_out (in place). Packed: the
// three inputs are pieces of one qkv row (stride (hq + 2 hkv) hd), q_out is separate and k_out
// is null (k goes to the cache only).
template <typename T>
__global__ void rope_kv_write_kernel(const T* q_in, T* q_out, long long q_in_stride, long long q_out_stride,
                                     const T* k_in, T* k_out, long long k_stride, const T* v_in, long long v_stride,
                                     T* k_cache, T* v_cache, const int32_t* slots, const int32_t* positions,
                                     const float* inv_freq, int hq, int hkv, int half, long long num_slots,
                                     float attention_scaling) {
  pdl_wait();
  const long long t = blockIdx.x;
  const int p = positions[t];
  if (p < 0) __trap();  // a corrupt step input: fail loudly rather than rotate by garbage
  const long long slot = slots[t];
  if (slot < 0 || slot >= num_slots) __trap();  // never write outside the cache
  const float pos = static_cast<float>(p);
  const long long hd = 2LL * half, kv_row = hkv * hd;
  const T* qi_row = q_in + t * q_in_stride;
  T* qo_row = q_out + t * q_out_stride;
  const T* ki_row = k_in + t * k_stride;
  T* ko_row = k_out != nullptr ? k_out + t * k_stride : nullptr;
  T* kc_row = k_cache + slot * kv_row;
  for (int idx = threadIdx.x; idx < (hq + hkv) * half; idx += blockDim.x) {
    const int h = idx / half, i = idx % half;
    const float angle = __fmul_rn(pos, inv_freq[i]);  // one f32 rounding, as in transformers
    const float c = cosf(angle) * attention_scaling;
    const float s = sinf(angle) * attention_scaling;
    const bool is_q = h < hq;
    const T* x = is_q ? qi_row + h * hd : ki_row + (h - hq) * hd;
    const float x1 = load_f32(x[i]);
    const float x2 = load_f32(x[i + half]);
    const T y1 = store_f32<T>(x1 * c - x2 * s);
    const T y2 = store_f32<T>(x2 * c + x1 * s);
    // Each element is read, then written, by this thread alone: in place is safe.
    T* y = is_q ? qo_row + h * hd : (ko_row != nullptr ? ko_row + (h - hq) * hd : nullptr);
    if (y != nullptr) {
      y[i] = y1;
      y[i + half] = y2;
    }
    if (!is_q) {
      T* dst = kc_row + (h - hq) * hd;
      dst[i] = y1;
      dst[i + half] = y2;
    }
  }
  const T* v_row = v_in + t * v_stride;
  T* vc_row = v_cache + slot * kv_row;
  for (long long i = threadIdx.x; i < kv_row; i += blockDim.x) vc_row[i] = v_row[i];
}

// Pointers and strides of one launch, either form.
template <typename T>
struct Operands {
  const T *q_in, *k_in, *v_in;
  T *q_out, *k_out;
  long long q_in_stride, q_out_stride, k_stride, v_stride;
  long long n;
  int hq, hkv, half;
};

template <typename T>
void launch(const RopeKvWriteArgs& a, const Operands<T>& o, cudaStream_t stream) {
  if (o.n == 0 || o.half == 0 || o.hq + o.hkv == 0) return;
  const long long num_slots = a.k_cache.dim(0) * a.k_cache.dim(1);
  launch_pdl("rope_kv_write_kernel", rope_kv_write_kernel<T>, static_cast<unsigned int>(o.n), kThreads, 0, stream,
             o.q_in, o.q_out, o.q_in_stride, o.q_out_stride, o.k_in, o.k_out, o.k_stride, o.v_in, o.v_stride,
             a.k_cache.data_as<T>(), a.v_cache.data_as<T>(), a.slots.data_as<int32_t>(),
             a.positions.data_as<int32_t>(), a.inv_freq.data_as<float>(), o.hq, o.hkv, o.half, num_slots,
             a.attention_scaling);
}

template <typename T>
void launch_unpacked(const RopeKvWriteArgs& a, cudaStream_t stream) {
  const long long n = a.q.dim(0), hq = a.q.dim(1), hkv = a.k.dim(1), hd = a.q.dim(2);
  T* q = a.q.data_as<T>();
  T* k = a.k.data_as<T>();
  launch<T>(a,
            {q, k, a.v.data_as<T>(), q, k, hq * hd, hq * hd, hkv * hd, hkv * hd, n, static_cast<int>(hq),
             static_cast<int>(hkv), static_cast<int>(hd / 2)},
            stream);
}

template <typename T>
void launch_packed(const RopeKvWriteArgs& a, const PackedQkvDims& d, cudaStream_t stream) {
  const T* qkv = a.qkv.data_as<T>();
  const long long row = d.row();
  launch<T>(a,
            {qkv, qkv + d.hq * d.hd, qkv + (d.hq + d.hkv) * d.hd, a.q.data_as<T>(), nullptr, row, d.hq * d.hd, row,
             row, d.n, static_cast<int>(d.hq), static_cast<int>(d.hkv), static_cast<int>(d.hd / 2)},
            stream);
}

// The packed form: q, k and v read from the rows of qkv; the rotated q written to a.q.
void rope_kv_write_packed(const RopeKvWriteArgs& a, cudaStream_t stream) {
  constexpr const char* kOp = "cuda rope_kv_write (packed qkv)";
  const PackedQkvDims d = packed_qkv_dims(a, kOp);
  detail::expect(a.qkv, a.qkv.dtype(), {d.n, d.row()}, kOp, "qkv");  // on the GPU
  detail::expect(a.q, a.qkv.dtype(), {d.n, d.hq, d.hd}, kOp, "q");
  detail::expect_float(a.qkv, kOp, "qkv");
  GQA_CHECK(d.hd % 2 == 0, kOp << ": head_dim must be even, q is " << shape_str(a.q.shape()));
  detail::expect_ndim(a.k_cache, 4, kOp, "k_cache");
  detail::expect(a.k_cache, a.qkv.dtype(), {a.k_cache.dim(0), a.k_cache.dim(1), d.hkv, d.hd}, kOp, "k_cache");
  detail::expect(a.v_cache, a.qkv.dtype(), a.k_cache.shape(), kOp, "v_cache");
  detail::expect(a.slots, DType::kI32, {d.n}, kOp, "slots");
  detail::expect(a.positions, DType::kI32, {d.n}, kOp, "positions");
  detail::expect(a.inv_freq, DType::kF32, {d.hd / 2}, kOp, "inv_freq");
  GQA_CHECK(d.n <= 0x7fffffffLL && d.row() <= 0x7fffffffLL, kOp << ": qkv " << shape_str(a.qkv.shape()) << " too large");
  const Tensor* step[] = {&a.q, &a.qkv};
  for (const Tensor* x : step) {
    GQA_CHECK(!overlaps(*x, a.k_cache) && !overlaps(*x, a.v_cache),
              kOp << ": the caches must not overlap q or qkv");
  }
  const DType t = a.qkv.dtype();
  GQA_CUDA_DISPATCH_FLOAT(t, kOp, launch_packed, a, d, stream);
}

}  // namespace

void rope_kv_write(const RopeKvWriteArgs& a, cudaStream_t stream) {
  constexpr const char* kOp = "cuda rope_kv_write";
  if (a.qkv.defined()) {
    rope_kv_write_packed(a, stream);
    return;
  }
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
      GQA_CHECK(!overlaps(*step[i], *step[j]), kOp << ": q, k and v must not overlap");
    GQA_CHECK(!overlaps(*step[i], a.k_cache) && !overlaps(*step[i], a.v_cache),
              kOp << ": the caches must not overlap q, k or v");
  }
  GQA_CUDA_DISPATCH_FLOAT(t, kOp, launch_unpacked, a, stream);
}

}  // namespace gqa::cuda
