// The decoder's step inputs and activations, allocated on the backend once and grown on demand
// (to the next power of two), so a steady decode step allocates nothing: on a GPU no cudaMalloc
// per layer, and fixed addresses a CUDA graph can capture. Views for a step of n tokens are
// row slices of the capacity tensors.
#pragma once

#include <cstdint>

#include "kernels/ops.h"

namespace gqa {

struct StepBufferDims {
  int64_t hidden = 0;       // d
  int64_t q_dim = 0;        // hq_local * hd
  int64_t kv_dim = 0;       // hkv_local * hd
  int64_t ffn = 0;          // f_local
  int64_t vocab_local = 0;  // LM-head rows on this rank
  int64_t rope_dim = 0;     // hd / 2
};

class StepBuffers {
 public:
  StepBuffers(Ops& ops, const StepBufferDims& dims);

  // Makes room for a step of `tokens` tokens, a block table of `table_entries` ints and
  // `logit_rows` LM-head rows. Earlier views stay valid only if nothing had to grow.
  void reserve(int64_t tokens, int64_t table_entries, int64_t logit_rows);
  // Changes whenever reserve() reallocates anything (recorded graphs hold the old addresses).
  int64_t generation() const { return generation_; }

  // Views of the first rows (shapes as the model uses them).
  Tensor x(int64_t n) const { return x_.slice_rows(0, n); }        // [n, d] residual stream
  // The residual stream's second buffer for steps of at most kPingPongRows tokens (undefined for
  // larger ones): there the add + RMSNorm before a projection writes the sum here instead of in
  // place, so a backend may fuse it into the projection's GEMV (Ops::add_rmsnorm_matmul_*).
  static constexpr int64_t kPingPongRows = 8;
  Tensor x_alt(int64_t n) const { return n <= kPingPongRows ? x_alt_.slice_rows(0, n) : Tensor(); }
  Tensor h(int64_t n) const { return h_.slice_rows(0, n); }        // [n, d] block input / output
  Tensor qkv(int64_t n) const { return qkv_.slice_rows(0, n); }    // [n, q_dim + 2 kv_dim]
  Tensor q(int64_t n) const { return q_.slice_rows(0, n); }        // [n, q_dim]
  Tensor attn(int64_t n) const { return attn_.slice_rows(0, n); }  // [n, q_dim]
  Tensor gate_up(int64_t n) const { return gate_up_.slice_rows(0, n); }  // [n, 2f]
  Tensor act(int64_t n) const { return act_.slice_rows(0, n); }          // [n, f]
  Tensor ids(int64_t n) const { return ids_.slice_rows(0, n); }    // i32 [n]
  Tensor positions(int64_t n) const { return positions_.slice_rows(0, n); }
  Tensor token_seq(int64_t n) const { return token_seq_.slice_rows(0, n); }
  Tensor slots(int64_t n) const { return slots_.slice_rows(0, n); }
  Tensor block_tables(int64_t seqs, int64_t blocks) const {  // i32 [seqs, blocks]
    return tables_.slice_rows(0, seqs * blocks).reshape({seqs, blocks});
  }
  Tensor inv_freq() const { return inv_freq_; }                            // f32 [hd/2]
  Tensor logits(int64_t m) const { return logits_.slice_rows(0, m); }      // [m, vocab_local]

 private:
  Ops& ops_;
  StepBufferDims dims_;
  int64_t tokens_cap_ = 0, table_cap_ = 0, logits_cap_ = 0;
  int64_t generation_ = 0;
  Tensor x_, x_alt_, h_, qkv_, q_, attn_, gate_up_, act_;
  Tensor ids_, positions_, token_seq_, slots_, tables_, inv_freq_, logits_;
};

}  // namespace gqa
