// The QKV GEMV with RoPE and the KV-cache write in its epilogue (see gemv_rope.h), on the GEMV
// kernel template (gemv_kernel.cuh) with the RopeRows row map.
#include "kernels/cuda/gemv_rope.h"

#include <atomic>
#include <cstdint>

#include "core/error.h"
#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_fault.cuh"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/gemv_launch.cuh"
#include "kernels/cuda/rope_kv_write.h"

namespace gqa::cuda {
namespace {

using namespace gemv_detail;

// Rows of wqkv: q heads (hq * hd), then k heads, then v heads (hkv * hd each). Row groups
// [0, rot) each hold R/2 rotation pairs: pair p = grp * R/2 + e (e < R/2) is head p / half, index
// i = p % half, rows i (slot e) and i + half (slot e + R/2) of that head; the rest hold R
// consecutive v rows (past the last: row vrows - 1 again, stored nowhere).
template <typename T>
struct RopeRows {
  T* q_out;          // [n, hq, hd]
  T* k_cache;        // [num_slots, hkv, hd]
  T* v_cache;
  const T* bias;     // [(hq + 2 hkv) hd] or null
  const int32_t* slots;
  const int32_t* positions;
  const float* inv_freq;  // [half]
  int hq, hkv, half;
  long long num_slots;
  float attention_scaling;

  template <int R>
  static constexpr int outputs() { return R; }
  template <int R>
  __device__ __forceinline__ long long rot_groups() const {
    return static_cast<long long>(hq + hkv) * half / (R / 2);
  }
  template <int R>
  __device__ __forceinline__ long long row(long long grp, int r) const {
    const long long hd = 2LL * half;
    if (grp < rot_groups<R>()) {
      const long long pair = grp * (R / 2) + r % (R / 2);
      return pair / half * hd + pair % half + (r >= R / 2 ? half : 0);
    }
    const long long vrows = static_cast<long long>(hkv) * hd, vrow = (grp - rot_groups<R>()) * R + r;
    return static_cast<long long>(hq + hkv) * hd + (vrow < vrows ? vrow : vrows - 1);
  }
  template <int R, class Sum>
  __device__ __forceinline__ void store(long long grp, int i, int o, const Sum& sum) const {
    const long long hd = 2LL * half;
    const int p = positions[i];
    const long long slot = slots[i];
    // A corrupt step input: fail loudly rather than rotate by garbage or write outside the cache
    // (the record names the position and slot: device_fault.h).
    if (p < 0 || slot < 0 || slot >= num_slots) GQA_DEVICE_FAULT(DeviceFaultCode::kStepInputOutOfRange, p, slot, num_slots);
    if (grp < rot_groups<R>()) {
      if (o >= R / 2) return;  // the pair's second row: stored by slot o - R/2 below
      const long long pair = grp * (R / 2) + o, h = pair / half;
      const int ii = static_cast<int>(pair % half);
      const long long row1 = h * hd + ii, row2 = row1 + half;
      float a1 = sum(o), a2 = sum(o + R / 2);
      if (bias != nullptr) {
        a1 += load_f32(bias[row1]);
        a2 += load_f32(bias[row2]);
      }
      const float angle = __fmul_rn(static_cast<float>(p), inv_freq[ii]);  // as rope_kv_write.cu
      const float c = cosf(angle) * attention_scaling, s = sinf(angle) * attention_scaling;
      T* dst = h < hq ? q_out + (static_cast<long long>(i) * hq + h) * hd
                      : k_cache + (slot * hkv + (h - hq)) * hd;
      dst[ii] = store_f32<T>(a1 * c - a2 * s);
      dst[ii + half] = store_f32<T>(a2 * c + a1 * s);
    } else {
      const long long vrows = static_cast<long long>(hkv) * hd, vrow = (grp - rot_groups<R>()) * R + o;
      if (vrow >= vrows) return;
      float v = sum(o);
      if (bias != nullptr) v += load_f32(bias[static_cast<long long>(hq + hkv) * hd + vrow]);
      v_cache[slot * vrows + vrow] = store_f32<T>(v);
    }
  }
};

template <typename T, int N>
void launch_n(const MatmulArgs& mm, const RopeKvWriteArgs& rk, const PackedQkvDims& d, cudaStream_t stream,
              const AddRmsNormArgs* norm) {
  const int m = static_cast<int>(mm.w.dim(0)), k = static_cast<int>(mm.x.dim(1));
  const RopeRows<T> map{rk.q.data_as<T>(),
                        rk.k_cache.data_as<T>(),
                        rk.v_cache.data_as<T>(),
                        mm.bias.defined() ? mm.bias.data_as<const T>() : nullptr,
                        rk.slots.data_as<const int32_t>(),
                        rk.positions.data_as<const int32_t>(),
                        rk.inv_freq.data_as<const float>(),
                        static_cast<int>(d.hq),
                        static_cast<int>(d.hkv),
                        static_cast<int>(d.hd / 2),
                        rk.k_cache.dim(0) * rk.k_cache.dim(1),
                        rk.attention_scaling};
  if constexpr (N <= kGemvNormMaxRows) {
    if (norm != nullptr) {
      return launch_gemv<T, N, RopeRows<T>, true>("gemv_kernel (norm + rope + kv write)", mm.x.data_as<const T>(),
                                                   mm.w.data_as<const T>(), map, m, k, stream, norm_in<T>(*norm));
    }
  }
  launch_gemv<T, N>("gemv_kernel (rope + kv write)", mm.x.data_as<const T>(), mm.w.data_as<const T>(), map, m, k,
                    stream);
}

template <typename T>
void launch(const MatmulArgs& mm, const RopeKvWriteArgs& rk, const PackedQkvDims& d, cudaStream_t stream,
            const AddRmsNormArgs* norm) {
  with_rows(mm.x.dim(0), "cuda gemv_rope_kv_write",
            [&](auto rows) { launch_n<T, decltype(rows)::value>(mm, rk, d, stream, norm); });
}

}  // namespace

GQA_PROCESS_SWITCH(fused_rope_enabled, set_fused_rope, "GQA_FUSED_ROPE", true)

bool gemv_rope_kv_write_supported(const MatmulArgs& mm, const RopeKvWriteArgs& rk) {
  if (!rk.qkv.defined() || !rk.q.defined() || rk.q.ndim() != 3) return false;
  if (rk.qkv.data() != mm.y.data() || rk.qkv.shape() != mm.y.shape()) return false;
  if (rk.q.dim(2) % 4 != 0) return false;  // whole rotation pairs per row group (R/2 <= 2)
  if (mm.bias.defined() && (mm.bias.ndim() != 1 || mm.bias.dim(0) != mm.w.dim(0) || mm.bias.dtype() != mm.x.dtype()))
    return false;
  return gemv_supported(mm.x, mm.w, mm.y);
}

std::vector<Tensor> gemv_rope_outputs(const RopeKvWriteArgs& rk) { return {rk.q, rk.k_cache, rk.v_cache}; }

std::vector<Tensor> gemv_rope_inputs(const MatmulArgs& mm, const RopeKvWriteArgs& rk) {
  return {mm.bias, rk.slots, rk.positions, rk.inv_freq};
}

void gemv_rope_kv_write(const MatmulArgs& mm, const RopeKvWriteArgs& rk, cudaStream_t stream,
                        const AddRmsNormArgs* norm) {
  constexpr const char* kOp = "cuda gemv_rope_kv_write";
  GQA_CHECK(gemv_rope_kv_write_supported(mm, rk),
            kOp << ": unsupported operands x " << shape_str(mm.x.shape()) << ", w " << shape_str(mm.w.shape())
                << ", qkv " << shape_str(rk.qkv.shape()) << " (decode GEMV operands, qkv = the matmul's y, "
                << "head_dim a multiple of 4)");
  const PackedQkvDims d = check_rope_kv_write_packed(rk, kOp);
  if (mm.bias.defined()) detail::expect(mm.bias, mm.x.dtype(), {mm.w.dim(0)}, kOp, "bias");  // on this GPU too
  for (const Tensor* out : {&rk.q, &rk.k_cache, &rk.v_cache}) {
    GQA_CHECK(!overlaps(*out, mm.x) && !overlaps(*out, mm.w) && !(mm.bias.defined() && overlaps(*out, mm.bias)),
              kOp << ": the outputs (q, caches) must not overlap x, w or the bias");
  }
  if (norm != nullptr) check_gemv_norm_call(kOp, *norm, mm.x, mm.w, gemv_rope_outputs(rk), gemv_rope_inputs(mm, rk));
  if (mm.x.dtype() == DType::kBF16) {
    launch<__nv_bfloat16>(mm, rk, d, stream, norm);
  } else {
    launch<__half>(mm, rk, d, stream, norm);
  }
}

}  // namespace gqa::cuda
