// Warp-level tensor-core pieces for the flash prefill (attention_prefill_mma.cu) and the
// tensor-core decode (attention_decode_mma.cu): ldmatrix fragment loads, mma.sync m16n8k16
// (bf16/f16 in, f32 accumulate), the f32 -> 16-bit pair packing that turns a score accumulator
// into the next mma's A operand, and one warp's online-softmax step over a K/V tile (also used by
// the wgmma prefill, whose accumulators have the same per-warp layout).
//
// Fragment layouts (PTX ISA, "Matrix fragments for mma.m16n8k16"), lane = 4 * gid + tig:
//   A 16x16 (row-major), 4 x b32: a0 = (row gid,     cols 2tig, 2tig+1)   a1 = (row gid + 8, same cols)
//                                 a2 = (row gid,     cols 2tig+8, +9)     a3 = (row gid + 8, same cols)
//   B 16x8  (k x n, "col"),  2 x b32: b0 = (k 2tig, 2tig+1; n gid)        b1 = (k 2tig+8, +9; n gid)
//   C 16x8  (f32),           4 x f32: c0, c1 = (row gid, cols 2tig, 2tig+1)  c2, c3 = (row gid + 8, same)
// ldmatrix .x4: lanes 8i..8i+7 give the 8 row addresses (16 bytes each) of matrix i, and register i
// of lane l receives elements (row l/4, cols 2(l%4), 2(l%4)+1) of matrix i -- (rows 2(l%4), +1;
// col l/4) with .trans. So an 8x8 tile of a row-major [row][col] array is an A/B fragment
// register as is, and a [k][n] array becomes a B register with .trans.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/cuda/attention_common.cuh"

namespace gqa::cuda::attn {

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem_row) {
  const unsigned addr = static_cast<unsigned>(__cvta_generic_to_shared(smem_row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* smem_row) {
  const unsigned addr = static_cast<unsigned>(__cvta_generic_to_shared(smem_row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// c += A (16x16) * B (16x8), f32 accumulators; T = __nv_bfloat16 or __half.
template <typename T>
__device__ __forceinline__ void mma_16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);

template <>
__device__ __forceinline__ void mma_16816<__nv_bfloat16>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <>
__device__ __forceinline__ void mma_16816<__half>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats rounded to T, `lo` in the low half-word (the lower column of a fragment pair).
template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi);

template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

template <>
__device__ __forceinline__ uint32_t pack2<__half>(float lo, float hi) {
  const __half2 v = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// Which key a tile's score column n (0 <= n < kKeys) holds, and where row n of a K or V tile and
// its column `col` sit in shared memory (in elements from the tile's pointer). The tiles of every
// kernel but one: keys in order, rows kRow elements apart. Every Keys functor's largest key is
// that of column kKeys - 1 (softmax_tile_keys tests only that one to skip masking a tile).
struct KeysInOrder {
  int start;
  __device__ __forceinline__ int operator()(int n) const { return start + n; }
};
template <int kRow>
struct PaddedRows {
  __device__ __forceinline__ int operator()(int n, int col) const { return n * kRow + col; }
};

// 2^x in one MUFU.EX2, subnormal results flushed to 0 (exp2f adds a three-instruction range
// fix-up per call that only probabilities below 2^-126 need); 2^-inf = 0.
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// The online-softmax step of one warp's 16 rows over a tile of kKeys scores s (this lane: rows
// gid and gid + 8, s[nt][e] = row gid + 8 * (e / 2), column n = 8 nt + 2 tig + e % 2, the C
// fragment layout of mma.sync and of a wgmma accumulator alike; column n is key keys(n)), whose
// last visible key is limit[0..1] (-1 = none): mask, m = running row max of the scores scaled by
// scale_log2 (> 0, checked by check_attention_args; log2 units), l = this lane's share of the row
// sum, o (HD / 8 C fragments) rescaled by exp2(m_old - m_new); s is left holding
// p = exp2(s * scale_log2 - m) (0 where masked), ready to be rounded into the A operand of P V.
// Per score: a max, one FFMA and one MUFU.EX2 and the sum; the mask (a compare and a select)
// only in lanes whose rows end inside the tile (no shuffle in that branch, so it may diverge).
// The row's largest score gets p = 2^r, r = the rounding error of its scaled value in m (half an
// ulp of m), not exactly 1: a factor O and l share, harmless unless |m| >= 2^28 (f16 P would
// overflow 65504; bf16: 2^31), score magnitudes no model's attention produces (FlashAttention
// makes the same trade; clamping the exponent at 0 would cost one more instruction per score).
// softmax_scores is the step without o: it returns alpha = exp2(m_old - m_new) per row for
// rescale_rows to apply (the wgmma prefill's overlap build applies it once the previous tile's
// P V, still in flight during softmax_scores, has landed in o).
// slack (log2 units, >= 0; 0 = the step above): the lazy rescale (FlashAttention-4's). A row keeps
// its m while the tile's max exceeds it by at most slack, so alpha is exactly 1 and O is not
// rescaled; p is then at most 2^slack (each probability and l carry the same factor 2^(max - m),
// which out = O / l cancels; bf16/f16 P keep their relative precision at any such magnitude, and
// slack <= 15 keeps f16 P under 65504). Once a max exceeds m by more, m moves to it as above. m is
// then no longer the row's running max, only the base its p and l are taken against.
template <int kKeys, class Keys>
__device__ __forceinline__ void softmax_scores(float (&s)[kKeys / 8][4], Keys keys, const int (&limit)[2],
                                               float scale_log2, float (&m)[2], float (&l)[2], float (&alpha)[2],
                                               float slack = 0.0f) {
  const int tig = threadIdx.x % 4;
  if (keys(kKeys - 1) > min(limit[0], limit[1])) {
#pragma unroll
    for (int nt = 0; nt < kKeys / 8; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        if (keys(8 * nt + 2 * tig + (e & 1)) > limit[e >> 1]) s[nt][e] = -INFINITY;
      }
    }
  }
  // Each row's max in kParts independent chains, then combined: one chain of kKeys / 4 fmaxf would
  // wait out each one's latency in turn (a 32-deep chain per row at 128 keys in the SASS). The
  // same value in any order.
  constexpr int kParts = kKeys / 8 >= 4 ? 4 : kKeys / 8;
  float part[2][kParts];
#pragma unroll
  for (int q = 0; q < kParts; ++q) part[0][q] = part[1][q] = -INFINITY;
#pragma unroll
  for (int nt = 0; nt < kKeys / 8; ++nt) {
#pragma unroll
    for (int e = 0; e < 4; ++e) part[e >> 1][nt % kParts] = fmaxf(part[e >> 1][nt % kParts], s[nt][e]);
  }
  float mx[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    mx[r] = part[r][0];
#pragma unroll
    for (int q = 1; q < kParts; ++q) mx[r] = fmaxf(mx[r], part[r][q]);
  }
  float neg_m[2], sum[2] = {0.0f, 0.0f};
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    // scale_log2 > 0: the scaled scores' max is the max's product (rounding is monotonic too).
    mx[r] = group_max<4>(mx[r]) * scale_log2;  // the row's 4 lanes are consecutive
    // (m = -inf: the difference is +inf, or NaN while the row has no valid score yet: m_new either way)
    const float m_new = mx[r] - m[r] <= slack ? m[r] : fmaxf(m[r], mx[r]);
    const float m_use = m_new == -INFINITY ? 0.0f : m_new;  // nothing valid yet: keep -inf - -inf away
    // 1 where the max stays (also while the row has no valid score: o and l are still 0, and a row
    // wholly masked so far, a sliding window's or a block's padding row, asks no rescale every
    // tile); 0 at a row's first valid score (m was -inf, o and l are 0).
    alpha[r] = m_new == m[r] ? 1.0f : fast_exp2(m[r] - m_use);
    m[r] = m_new;
    neg_m[r] = -m_use;
  }
#pragma unroll
  for (int nt = 0; nt < kKeys / 8; ++nt) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      s[nt][e] = fast_exp2(fmaf(s[nt][e], scale_log2, neg_m[e >> 1]));  // masked: 2^-inf = 0
      sum[e >> 1] += s[nt][e];
    }
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) l[r] = l[r] * alpha[r] + sum[r];
}

// o *= alpha per row. o changes only where a row's max moved (alpha = 2^0 = 1 exactly otherwise):
// past the first tiles of a long row it rarely does, and the warp skips the HD / 2 multiplies (a
// per-lane branch: the warp runs it when any lane needs it).
template <int HD>
__device__ __forceinline__ void rescale_rows(float (&o)[HD / 8][4], const float (&alpha)[2]) {
  if (alpha[0] != 1.0f || alpha[1] != 1.0f) {
#pragma unroll
    for (int dt = 0; dt < HD / 8; ++dt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) o[dt][e] *= alpha[e >> 1];
    }
  }
}

template <int HD, int kKeys, class Keys>
__device__ __forceinline__ void softmax_tile_keys(float (&s)[kKeys / 8][4], Keys keys, const int (&limit)[2],
                                                  float scale_log2, float (&o)[HD / 8][4], float (&m)[2],
                                                  float (&l)[2], float slack = 0.0f) {
  float alpha[2];
  softmax_scores<kKeys>(s, keys, limit, scale_log2, m, l, alpha, slack);
  rescale_rows<HD>(o, alpha);
}

// softmax_tile_keys for a tile of keys start, start + 1, ...
template <int HD, int kKeys>
__device__ __forceinline__ void softmax_tile(float (&s)[kKeys / 8][4], int start, const int (&limit)[2],
                                             float scale_log2, float (&o)[HD / 8][4], float (&m)[2], float (&l)[2],
                                             float slack = 0.0f) {
  softmax_tile_keys<HD, kKeys>(s, KeysInOrder{start}, limit, scale_log2, o, m, l, slack);
}

// The A fragment (16 rows x 16 keys) of keys 16kk..16kk+15 from the p values of softmax_tile: the
// C fragments of key n-tiles 2kk and 2kk + 1, rounded to T.
template <typename T, int kKeys>
__device__ __forceinline__ void p_fragment(const float (&s)[kKeys / 8][4], int kk, uint32_t (&a)[4]) {
  a[0] = pack2<T>(s[2 * kk][0], s[2 * kk][1]);
  a[1] = pack2<T>(s[2 * kk][2], s[2 * kk][3]);
  a[2] = pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
  a[3] = pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
}

// One warp, one tile: its 16 query rows (this lane: rows gid and gid + 8, whose last visible key
// is limit[0..1]; -1 = none) against kKeys keys, column n being key keys(n), its K and V rows at
// k_t + rows(n, 0) and v_t + rows(n, 0) in shared memory (16-byte aligned; the 8 rows of one
// ldmatrix matrix, n = 8i .. 8i + 7, in 8 different 16-byte bank groups for full speed). S = q K^T
// (qf: the rows' A fragments, HD / 16 k-steps), then softmax_tile_keys, then O = O * alpha + P V
// (o: HD / 8 C fragments). V rows of masked keys must be finite in shared memory (zero-filled): a
// masked key gets p = 0, and 0 * V must not be NaN; K rows of masked keys may hold anything.
template <typename T, int HD, int kKeys, class Rows, class Keys>
__device__ __forceinline__ void mma_attend_rows(const T* k_t, const T* v_t, Rows rows, Keys keys,
                                                const int (&limit)[2], float scale_log2,
                                                const uint32_t (&qf)[HD / 16][4], float (&o)[HD / 8][4],
                                                float (&m)[2], float (&l)[2]) {
  static_assert(kKeys % 16 == 0 && HD % 16 == 0, "whole 16x16 k-steps");
  const int lane = threadIdx.x % 32;
  float s[kKeys / 8][4];
#pragma unroll
  for (int nt = 0; nt < kKeys / 8; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
  // S = q K^T. K is [key][dim]: 8x8 tiles of it are B fragments without .trans. Matrices of one
  // x4 load: (keys +0..7, dims +0..7), (+0..7, +8..15), (+8..15, +0..7), (+8..15, +8..15).
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk) {
#pragma unroll
    for (int np = 0; np < kKeys / 16; ++np) {
      uint32_t b[4];
      ldmatrix_x4(b, k_t + rows(16 * np + (lane >> 4) * 8 + (lane & 7), 16 * kk + ((lane >> 3) & 1) * 8));
      mma_16816<T>(s[2 * np], qf[kk], b[0], b[1]);
      mma_16816<T>(s[2 * np + 1], qf[kk], b[2], b[3]);
    }
  }
  softmax_tile_keys<HD, kKeys>(s, keys, limit, scale_log2, o, m, l);
  // O += P V. V is [key][dim] = [k][n]: B fragments through .trans. Matrices of one x4 load:
  // (keys +0..7, dims +0..7), (+8..15, +0..7), (+0..7, +8..15), (+8..15, +8..15).
#pragma unroll
  for (int kk = 0; kk < kKeys / 16; ++kk) {
    uint32_t a[4];
    p_fragment<T, kKeys>(s, kk, a);
#pragma unroll
    for (int dp = 0; dp < HD / 16; ++dp) {
      uint32_t b[4];
      ldmatrix_x4_trans(b, v_t + rows(16 * kk + ((lane >> 3) & 1) * 8 + (lane & 7), 16 * dp + (lane >> 4) * 8));
      mma_16816<T>(o[2 * dp], a, b[0], b[1]);
      mma_16816<T>(o[2 * dp + 1], a, b[2], b[3]);
    }
  }
}

// mma_attend_rows over keys [start, start + kKeys) whose rows are kRow elements apart.
template <typename T, int HD, int kKeys, int kRow>
__device__ __forceinline__ void mma_attend_tile(const T* k_t, const T* v_t, int start, const int (&limit)[2],
                                                float scale_log2, const uint32_t (&qf)[HD / 16][4],
                                                float (&o)[HD / 8][4], float (&m)[2], float (&l)[2]) {
  mma_attend_rows<T, HD, kKeys>(k_t, v_t, PaddedRows<kRow>{}, KeysInOrder{start}, limit, scale_log2, qf, o, m, l);
}

}  // namespace gqa::cuda::attn
