#include "kernels/cuda/attention.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/attention_checks.h"
#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/attention_prefill.h"
#include "kernels/cuda/attention_prefill_mma.h"
#include "kernels/cuda/attention_prefill_wgmma.h"
#include "kernels/cuda/check_args.h"

namespace gqa::cuda {
namespace {

bool aligned16(const Tensor& t) { return reinterpret_cast<uintptr_t>(t.data()) % 16 == 0; }

}  // namespace

AttentionDims check_attention_args(const AttentionArgs& a, const char* op) {
  using detail::expect;
  detail::expect_ndim(a.q, 3, op, "q");
  detail::expect_float(a.q, op, "q");
  detail::expect_ndim(a.k_cache, 4, op, "k_cache");
  detail::expect_ndim(a.block_tables, 2, op, "block_tables");
  const AttentionDims d = AttentionDims::of(a);
  GQA_CHECK(d.hd == 16 || d.hd == 32 || d.hd == 64 || d.hd == 128,
            op << ": head_dim " << d.hd << " of q " << shape_str(a.q.shape())
               << " is not supported (16, 32, 64 or 128)");
  expect(a.k_cache, a.q.dtype(), {d.num_blocks, d.block_size, d.hkv, d.hd}, op, "k_cache");
  expect(a.v_cache, a.q.dtype(), a.k_cache.shape(), op, "v_cache");
  expect(a.out, a.q.dtype(), a.q.shape(), op, "out");
  expect(a.block_tables, DType::kI32, a.block_tables.shape(), op, "block_tables");
  expect(a.token_seq, DType::kI32, {d.n}, op, "token_seq");
  expect(a.positions, DType::kI32, {d.n}, op, "positions");
  check_attention_out_apart(a, op);
  GQA_CHECK(d.hkv > 0 && d.hq > 0 && d.hq % d.hkv == 0,
            op << ": query heads of q " << shape_str(a.q.shape()) << " are not a positive multiple of the KV heads of "
               << "k_cache " << shape_str(a.k_cache.shape()));
  GQA_CHECK(d.block_size > 0 && d.num_blocks > 0 && d.n_seqs > 0 && d.max_blocks > 0,
            op << ": empty k_cache " << shape_str(a.k_cache.shape()) << " or block_tables "
               << shape_str(a.block_tables.shape()));
  GQA_CHECK(aligned16(a.q) && aligned16(a.k_cache) && aligned16(a.v_cache) && aligned16(a.out),
            op << ": q, k_cache, v_cache and out must be 16-byte aligned (the kernels use 16-byte loads)");
  // The kernels index tokens, heads, positions and block ids in int32; byte offsets are 64-bit.
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  GQA_CHECK(d.n * d.hq <= kMax && d.num_blocks * d.block_size <= kMax && d.hkv * d.hd <= kMax,
            op << ": sizes exceed int32 indexing: q " << shape_str(a.q.shape()) << ", k_cache "
               << shape_str(a.k_cache.shape()));
  // Positions below 2^30: the kernels' tile arithmetic (a pass's end rounded up to a tile, the
  // keys of its last tile) stays far inside int32.
  constexpr int64_t kMaxPositions = int64_t(1) << 30;
  GQA_CHECK(d.max_blocks * d.block_size <= kMaxPositions,
            op << ": block_tables " << shape_str(a.block_tables.shape()) << " x block size " << d.block_size
               << " address " << d.max_blocks * d.block_size << " positions per sequence, at most " << kMaxPositions);
  // scale * log2(e) must be a positive finite float too (the kernels' score units).
  GQA_CHECK(a.scale > 0.0f && std::isfinite(a.scale * 1.4426950408889634f),
            op << ": scale " << a.scale << " must be positive and finite (times log2(e))");
  return d;
}

void attention(const AttentionArgs& a, cudaStream_t stream) {
  if (a.one_token_per_seq) {
    attention_decode(a, stream);
  } else if (prefill_wgmma_enabled() && prefill_wgmma_supported(a) && prefill_wgmma_available()) {
    attention_prefill_wgmma(a, stream);  // the default on H100/H200 (attention_prefill_wgmma.h)
  } else if (prefill_mma_supported(a)) {
    attention_prefill_mma(a, stream);
  } else {
    attention_prefill(a, stream);
  }
}

}  // namespace gqa::cuda
