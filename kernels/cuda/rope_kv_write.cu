// One thread block per token, one work item per thread (a block-strided loop only past
// kMaxThreads items): either kN consecutive rotation pairs (i .. i + kN, each with its partner
// + hd/2) of one q or k head (k pairs are stored both in place and into the cache slot), or kN
// elements of the token's V row. A thread issues all its loads (x, inv_freq, v) before it looks
// at the position and slot, and before any store, so a token costs about one memory round trip
// rather than one per loop trip (the stores could alias the next trip's loads for the compiler).
// kN = 16 / sizeof(T) (16-byte accesses) when head_dim and every pointer allow it, else 1.
// cos/sin are recomputed per head with the same expressions as rope.cu (see rope_kv_write.h).
#include <cstdint>

#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/rope_kv_write.h"
#include "kernels/packed_qkv.h"
#include "kernels/cuda/device_require.cuh"

namespace gqa::cuda {
namespace {

constexpr int kMaxThreads = 512;

// kN elements of T moved by one access (16 bytes when kN = 16 / sizeof(T)).
template <typename T, int kN>
struct alignas(sizeof(T) * kN) Pack {
  T e[kN];
};

// inv_freq[i .. i + kN): float4 loads when kN is a multiple of 4 (inv_freq + i then 16-byte aligned).
template <int kN>
__device__ __forceinline__ void load_freqs(const float* p, float (&f)[kN]) {
  if constexpr (kN % 4 == 0) {
#pragma unroll
    for (int j = 0; j < kN / 4; ++j) {
      const float4 v = reinterpret_cast<const float4*>(p)[j];
      f[4 * j] = v.x;
      f[4 * j + 1] = v.y;
      f[4 * j + 2] = v.z;
      f[4 * j + 3] = v.w;
    }
  } else {
#pragma unroll
    for (int j = 0; j < kN; ++j) f[j] = p[j];
  }
}

// Row strides in elements. Unpacked: q_in == q_out and k_in == k_out (in place). Packed: the
// three inputs are pieces of one qkv row (stride (hq + 2 hkv) hd), q_out is separate and k_out
// is null (k goes to the cache only). half and the strides are multiples of kN.
template <typename T, int kN>
__global__ void __launch_bounds__(kMaxThreads)
    rope_kv_write_kernel(const T* q_in, T* q_out, long long q_in_stride, long long q_out_stride, const T* k_in,
                         T* k_out, long long k_stride, const T* v_in, long long v_stride, T* k_cache, T* v_cache,
                         const int32_t* slots, const int32_t* positions, const float* inv_freq, int hq, int hkv,
                         int half, long long num_slots, float attention_scaling) {
  using P = Pack<T, kN>;
  pdl_wait();
  const long long t = blockIdx.x;
  const int p = positions[t];
  const long long slot = slots[t];
  const long long hd = 2LL * half, kv_row = hkv * hd;
  const int chunks = half / kN;  // accesses per half head
  const int rope_items = (hq + hkv) * chunks;  // < 2^31 (rope_kv_write checks the row sizes)
  const long long items = rope_items + kv_row / kN;
  const T* qi_row = q_in + t * q_in_stride;
  T* qo_row = q_out + t * q_out_stride;
  const T* ki_row = k_in + t * k_stride;
  T* ko_row = k_out != nullptr ? k_out + t * k_stride : nullptr;
  const T* v_row = v_in + t * v_stride;
  for (long long idx = threadIdx.x; idx < items; idx += blockDim.x) {
    if (idx < rope_items) {
      const int r = static_cast<int>(idx), h = r / chunks, i = (r - h * chunks) * kN;
      const bool is_q = h < hq;
      const T* x = is_q ? qi_row + h * hd : ki_row + (h - hq) * hd;
      const P x1 = *reinterpret_cast<const P*>(x + i);
      const P x2 = *reinterpret_cast<const P*>(x + i + half);
      float f[kN];
      load_freqs<kN>(inv_freq + i, f);
      // A corrupt step input: fail loudly rather than rotate by garbage or write outside the cache.
      GQA_DEVICE_REQUIRE(p >= 0 && slot >= 0 && slot < num_slots,
                         "rope_kv_write: a negative position or a slot outside the KV cache");
      const float pos = static_cast<float>(p);
      P y1, y2;
#pragma unroll
      for (int e = 0; e < kN; ++e) {
        const float angle = __fmul_rn(pos, f[e]);  // one f32 rounding, as in transformers
        const float c = cosf(angle) * attention_scaling;
        const float s = sinf(angle) * attention_scaling;
        const float a1 = load_f32(x1.e[e]);
        const float a2 = load_f32(x2.e[e]);
        y1.e[e] = store_f32<T>(a1 * c - a2 * s);
        y2.e[e] = store_f32<T>(a2 * c + a1 * s);
      }
      // Each element is read, then written, by this thread alone: in place is safe.
      T* y = is_q ? qo_row + h * hd : (ko_row != nullptr ? ko_row + (h - hq) * hd : nullptr);
      if (y != nullptr) {
        *reinterpret_cast<P*>(y + i) = y1;
        *reinterpret_cast<P*>(y + i + half) = y2;
      }
      if (!is_q) {
        T* dst = k_cache + slot * kv_row + (h - hq) * hd;
        *reinterpret_cast<P*>(dst + i) = y1;
        *reinterpret_cast<P*>(dst + i + half) = y2;
      }
    } else {
      const long long j = (idx - rope_items) * kN;
      const P v = *reinterpret_cast<const P*>(v_row + j);
      GQA_DEVICE_REQUIRE(p >= 0 && slot >= 0 && slot < num_slots,
                         "rope_kv_write: a negative position or a slot outside the KV cache");
      *reinterpret_cast<P*>(v_cache + slot * kv_row + j) = v;
    }
  }
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

template <typename T, int kN>
void launch_with(const RopeKvWriteArgs& a, const Operands<T>& o, cudaStream_t stream) {
  const long long num_slots = a.k_cache.dim(0) * a.k_cache.dim(1);
  const long long items = (o.hq + 3LL * o.hkv) * (o.half / kN);  // rotation accesses, then V accesses
  const long long threads = (items + 31) / 32 * 32;
  launch_pdl("rope_kv_write_kernel", rope_kv_write_kernel<T, kN>, static_cast<unsigned int>(o.n),
             static_cast<unsigned int>(threads < kMaxThreads ? threads : kMaxThreads), 0, stream, o.q_in, o.q_out,
             o.q_in_stride, o.q_out_stride, o.k_in, o.k_out, o.k_stride, o.v_in, o.v_stride, a.k_cache.data_as<T>(),
             a.v_cache.data_as<T>(), a.slots.data_as<int32_t>(), a.positions.data_as<int32_t>(),
             a.inv_freq.data_as<float>(), o.hq, o.hkv, o.half, num_slots, a.attention_scaling);
}

// 16-byte accesses when half a head is a whole number of them and every pointer is 16-byte
// aligned (the strides are multiples of head_dim, so every row then is too).
template <typename T>
void launch(const RopeKvWriteArgs& a, const Operands<T>& o, cudaStream_t stream) {
  if (o.n == 0 || o.half == 0 || o.hq + o.hkv == 0) return;
  constexpr int kVec = 16 / static_cast<int>(sizeof(T));
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  const bool vec = o.half % kVec == 0 && aligned(o.q_in) && aligned(o.q_out) && aligned(o.k_in) &&
                   (o.k_out == nullptr || aligned(o.k_out)) && aligned(o.v_in) && aligned(a.k_cache.data()) &&
                   aligned(a.v_cache.data()) && aligned(a.inv_freq.data());
  if (vec) {
    launch_with<T, kVec>(a, o, stream);
  } else {
    launch_with<T, 1>(a, o, stream);
  }
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

}  // namespace

PackedQkvDims check_rope_kv_write_packed(const RopeKvWriteArgs& a, const char* kOp) {
  const PackedQkvDims d = packed_qkv_dims(a, kOp);
  detail::expect(a.qkv, a.qkv.dtype(), {d.n, d.row()}, kOp, "qkv");  // on the GPU
  detail::expect(a.q, a.qkv.dtype(), {d.n, d.hq, d.hd}, kOp, "q");
  detail::expect_float(a.qkv, kOp, "qkv");
  GQA_CHECK(d.hd % 2 == 0, kOp << ": head_dim must be even, q is " << shape_str(a.q.shape()));
  detail::expect_ndim(a.k_cache, 4, kOp, "k_cache");
  detail::expect(a.k_cache, a.qkv.dtype(), {a.k_cache.dim(0), a.k_cache.dim(1), d.hkv, d.hd}, kOp, "k_cache");
  detail::expect(a.v_cache, a.qkv.dtype(), a.k_cache.shape(), kOp, "v_cache");
  GQA_CHECK(!overlaps(a.k_cache, a.v_cache), kOp << ": k_cache and v_cache overlap");  // (V would overwrite K)
  detail::expect(a.slots, DType::kI32, {d.n}, kOp, "slots");
  detail::expect(a.positions, DType::kI32, {d.n}, kOp, "positions");
  detail::expect(a.inv_freq, DType::kF32, {d.hd / 2}, kOp, "inv_freq");
  GQA_CHECK(d.n <= 0x7fffffffLL && d.row() <= 0x7fffffffLL, kOp << ": qkv " << shape_str(a.qkv.shape()) << " too large");
  const Tensor* step[] = {&a.q, &a.qkv};
  for (const Tensor* x : step) {
    GQA_CHECK(!overlaps(*x, a.k_cache) && !overlaps(*x, a.v_cache),
              kOp << ": the caches must not overlap q or qkv");
  }
  return d;
}

namespace {

// The packed form: q, k and v read from the rows of qkv; the rotated q written to a.q.
void rope_kv_write_packed(const RopeKvWriteArgs& a, cudaStream_t stream) {
  constexpr const char* kOp = "cuda rope_kv_write (packed qkv)";
  const PackedQkvDims d = check_rope_kv_write_packed(a, kOp);
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
