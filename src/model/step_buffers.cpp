#include "model/step_buffers.h"

#include <algorithm>

namespace gqa {
namespace {

int64_t grown(int64_t need, int64_t cap) {
  if (need <= cap) return cap;
  int64_t c = 16;
  while (c < need) c *= 2;
  return c;
}

}  // namespace

StepBuffers::StepBuffers(Ops& ops, const StepBufferDims& dims) : ops_(ops), dims_(dims) {
  inv_freq_ = ops_.alloc(DType::kF32, {dims_.rope_dim});
}

void StepBuffers::reserve(int64_t tokens, int64_t table_entries, int64_t logit_rows) {
  const DType t = ops_.compute_dtype();
  if (tokens > tokens_cap_) {
    const int64_t c = grown(tokens, tokens_cap_);
    x_ = ops_.alloc(t, {c, dims_.hidden});
    x_alt_ = ops_.alloc(t, {std::min(c, kPingPongRows), dims_.hidden});
    h_ = ops_.alloc(t, {c, dims_.hidden});
    qkv_ = ops_.alloc(t, {c, dims_.q_dim + 2 * dims_.kv_dim});
    q_ = ops_.alloc(t, {c, dims_.q_dim});
    attn_ = ops_.alloc(t, {c, dims_.q_dim});
    gate_up_ = ops_.alloc(t, {c, 2 * dims_.ffn});
    act_ = ops_.alloc(t, {c, dims_.ffn});
    ids_ = ops_.alloc(DType::kI32, {c});
    positions_ = ops_.alloc(DType::kI32, {c});
    token_seq_ = ops_.alloc(DType::kI32, {c});
    slots_ = ops_.alloc(DType::kI32, {c});
    tokens_cap_ = c;
    ++generation_;
  }
  if (table_entries > table_cap_) {
    table_cap_ = grown(table_entries, table_cap_);
    tables_ = ops_.alloc(DType::kI32, {table_cap_});
    ++generation_;
  }
  if (logit_rows > logits_cap_) {
    logits_cap_ = grown(logit_rows, logits_cap_);
    logits_ = ops_.alloc(t, {logits_cap_, dims_.vocab_local});
    ++generation_;
  }
}

}  // namespace gqa
