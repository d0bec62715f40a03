#include "launch/gqa_bench/decode_ops.h"

#include <cmath>
#include <functional>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/gemv_rope.h"
#include "kernels/cuda/sampling.h"
#include "model/rope.h"

namespace gqa::bench {
namespace {

// The step's device-side inputs and activations, B = batch tokens (one per sequence).
struct OpInputs {
  Tensor ids, positions, token_seq, slots, tables;  // i32
  Tensor inv_freq;                                  // f32 [hd/2]
  Tensor x, h, h2;                                  // [B, d]
  Tensor qkv;                                       // [B, (hq + 2 hkv) * hd]
  Tensor q;                                         // [B, hq*hd], the rotated q
  Tensor attn;                                      // [B, hq, hd]
  Tensor gate_up;                                   // [B, 2f]
  Tensor act;                                       // [B, f]
  Tensor logits;                                    // [B, vocab]
  Tensor cand1, cand50, cand256;                    // top_k rows for k = 1, 50, 256
  Tensor uniforms;                                  // f32 [B]
  Tensor tokens;                                    // i32 [B]
  float rope_scaling = 1.0f;
};

Tensor upload_i32(Ops& ops, const std::vector<int32_t>& v, Shape shape) {
  Tensor t = ops.alloc(DType::kI32, std::move(shape));
  ops.upload_i32(v.data(), t);
  return t;
}

OpInputs make_inputs(BenchEnv& env, const ModelConfig& c, const DecodeFixture& fx) {
  Ops& ops = env.ops;
  const int64_t b = fx.batch, d = c.hidden_size, hd = c.head_dim;
  const int64_t hq = c.num_attention_heads, hkv = c.num_key_value_heads, f = c.intermediate_size;
  const StepInput& in = fx.step;
  OpInputs x;
  x.ids = upload_i32(ops, in.tokens, {b});
  x.positions = upload_i32(ops, in.positions, {b});
  x.token_seq = upload_i32(ops, in.token_seq, {b});
  x.slots = upload_i32(ops, in.slots, {b});
  const int64_t per_seq = static_cast<int64_t>(in.block_tables[0].size());
  std::vector<int32_t> flat;
  for (const auto& bt : in.block_tables) flat.insert(flat.end(), bt.begin(), bt.end());
  x.tables = upload_i32(ops, flat, {b, per_seq});
  const RopeFrequencies rope = rope_frequencies(c, fx.context - 1);
  x.inv_freq = ops.alloc(DType::kF32, {static_cast<int64_t>(rope.inv_freq.size())});
  ops.upload_f32(rope.inv_freq.data(), x.inv_freq);
  x.rope_scaling = rope.attention_scaling;
  const DType t = ops.compute_dtype();
  uint32_t seed = 500;
  auto random = [&](Shape s) {
    Tensor r = ops.alloc(t, std::move(s));
    fill_uniform(r, seed++, 1.0f, 0.0f, env.stream);
    return r;
  };
  x.x = random({b, d});
  x.h = random({b, d});
  x.h2 = random({b, d});
  x.qkv = random({b, (hq + 2 * hkv) * hd});
  x.q = random({b, hq * hd});
  x.attn = random({b, hq, hd});
  x.gate_up = random({b, 2 * f});
  x.act = random({b, f});
  x.logits = random({b, c.vocab_size});
  x.cand1 = ops.alloc(DType::kF32, {b, top_k_row_width(1)});
  x.cand50 = ops.alloc(DType::kF32, {b, top_k_row_width(50)});
  x.cand256 = ops.alloc(DType::kF32, {b, top_k_row_width(256)});
  x.uniforms = ops.alloc(DType::kF32, {b});
  fill_uniform(x.uniforms, seed++, 0.5f, 0.5f, env.stream);  // in [0, 1)
  x.tokens = ops.alloc(DType::kI32, {b});
  return x;
}

struct OpBench {
  OpTiming t;
  bool uses_cache = false;  // rotates over the cache's layers rather than the model's
  bool opt_in = false;      // a fused GEMV's row (timed in the pass after the others only)
  bool fused_by_default = false;  // (a weight GEMM) fused with the op after it by the default step at
                                  // batch <= kGemvMaxRows (its fused row is then the step's)
  std::function<void(int64_t layer)> run;
};

class OpList {
 public:
  void add(const char* name, double per_step, double bytes, double flops, bool uses_cache,
           std::function<void(int64_t)> run, bool opt_in = false) {
    OpBench op;
    op.opt_in = opt_in;
    op.t.name = name;
    op.t.per_step = static_cast<int64_t>(per_step);
    op.t.bytes = bytes;
    op.t.flops = flops;
    op.uses_cache = uses_cache;
    op.run = std::move(run);
    ops_.push_back(std::move(op));
  }
  // `gemms` GEMMs of y[b, m] = x[b, k] W[m, k]^T: each weight read once, the activations in and
  // out; 2 FLOPs per multiply-add.
  void add_gemm(const char* name, double per_step, double b, double m, double k, int gemms,
                std::function<void(int64_t)> run, bool fused_by_default = false) {
    add(name, per_step, gemms * (m * k + b * k + b * m) * 2.0, gemms * 2.0 * b * m * k, false, std::move(run));
    ops_.back().t.weight_gemm = true;
    ops_.back().fused_by_default = fused_by_default;
  }
  std::vector<OpBench>& ops() { return ops_; }

 private:
  std::vector<OpBench> ops_;
};

void add_attention_ops(OpList& list, Ops& ops, const ModelConfig& c, const ModelWeights& w, const DecodeFixture& fx,
                       OpInputs& x) {
  const double b = fx.batch, d = c.hidden_size, hd = c.head_dim, hq = c.num_attention_heads;
  const double hkv = c.num_key_value_heads, L = c.num_hidden_layers;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const int64_t n = fx.batch, hdi = c.head_dim, hqi = c.num_attention_heads;
  list.add("embedding", 1, b * d * 2 * 2 + b * 4, 0, false, [&](int64_t) {
    ops.embedding({x.ids, w.embed, 0, x.x});
  });
  // The Model normalises once before layer 0; every later norm is fused with the residual add
  // that precedes it (Ops::add_rmsnorm: 2 per layer, the last one with the final norm).
  list.add("rmsnorm", 1, (2 * b * d + d) * 2, 0, false, [&, eps](int64_t l) {
    ops.rmsnorm({x.x, w.layers[l].attn_norm, x.h, eps});
  });
  // As the Model does it: one GEMM on the stacked [q; k; v] weight (rows interleave q | k | v),
  // then rope_kv_write on that packed output: rotated q to its own buffer, k and v to the cache.
  list.add_gemm(
      "QKV GEMM (stacked)", L, b, (hq + 2 * hkv) * hd, d, 1,
      [&](int64_t l) { ops.matmul({x.h, w.layers[l].wqkv, Tensor(), x.qkv}); }, /*fused_by_default=*/true);
  list.add("rope + kv_write (fused, packed qkv)", L, b * ((hq + 2 * hkv) + hq + 2 * hkv) * hd * 2, 0, true,
           [&, n, hdi, hqi](int64_t l) {
             RopeKvWriteArgs a{x.q.reshape({n, hqi, hdi}), Tensor(), Tensor(), fx.cache->k(l), fx.cache->v(l),
                               x.slots, x.positions, x.inv_freq, x.rope_scaling};
             a.qkv = x.qkv;
             ops.rope_kv_write(a);
           });
  // The fused form of the two rows above, the default step's at batch <= 8 (kernels/cuda/gemv_rope.h;
  // timed in the pass after the others, not in their sum).
  if (fx.batch <= cuda::kGemvMaxRows) {
    list.add("QKV GEMM + RoPE + KV write (fused)", L,
             ((hq + 2 * hkv) * hd * d + b * d + b * (hq + 2 * hkv) * hd) * 2.0, 2.0 * b * (hq + 2 * hkv) * hd * d, true,
             [&, n, hdi, hqi](int64_t l) {
               RopeKvWriteArgs a{x.q.reshape({n, hqi, hdi}), Tensor(), Tensor(), fx.cache->k(l), fx.cache->v(l),
                                 x.slots, x.positions, x.inv_freq, x.rope_scaling};
               a.qkv = x.qkv;
               const cuda::ScopedSwitch on(cuda::fused_rope_enabled, cuda::set_fused_rope, true);
               ops.matmul_rope_kv_write({x.h, w.layers[l].wqkv, Tensor(), x.qkv}, a);
             },
             /*opt_in=*/true);
  }
  const double attn_bytes = b * fx.context * hkv * hd * 2 * 2 + 2 * b * hq * hd * 2;  // K and V once; q in, out
  list.add("attention decode", L, attn_bytes, 4 * b * hq * hd * fx.context, true, [&, n, hdi, hqi](int64_t l) {
    ops.attention({x.q.reshape({n, hqi, hdi}), fx.cache->k(l), fx.cache->v(l), x.tables, x.token_seq, x.positions,
                   x.attn, 1.0f / std::sqrt(float(hdi)), fx.context, true});
  });
  list.add_gemm("O GEMM", L, b, d, hq * hd, 1, [&, n, hdi, hqi](int64_t l) {
    ops.matmul({x.attn.reshape({n, hqi * hdi}), w.layers[l].wo, Tensor(), x.h});
  });
  list.add("add + rmsnorm (fused)", 2 * L, (4 * b * d + d) * 2, 0, false, [&, eps](int64_t l) {
    ops.add_rmsnorm({x.x, x.h, w.layers[l].mlp_norm, x.h2, eps});
  });
}

void add_mlp_ops(OpList& list, Ops& ops, const ModelConfig& c, const ModelWeights& w, const DecodeFixture& fx,
                 OpInputs& x) {
  const double b = fx.batch, d = c.hidden_size, f = c.intermediate_size, L = c.num_hidden_layers;
  list.add_gemm(
      "gate/up GEMM (stacked)", L, b, 2 * f, d, 1,
      [&](int64_t l) { ops.matmul({x.h, w.layers[l].w_gate_up, Tensor(), x.gate_up}); }, /*fused_by_default=*/true);
  list.add("swiglu", L, 3 * b * f * 2, 0, false, [&](int64_t) { ops.swiglu({x.gate_up, x.act}); });
  // The fused form of the two rows above, the default step's at batch <= 8 (kernels/cuda/gemv.h:
  // gemv_swiglu; timed in the pass after the others, not in their sum).
  if (fx.batch <= cuda::kGemvMaxRows) {
    list.add("gate/up GEMM + SwiGLU (fused)", L, (2 * f * d + b * d + b * f) * 2.0, 2.0 * b * 2 * f * d, false,
             [&](int64_t l) {
               const cuda::ScopedSwitch on(cuda::fused_swiglu_enabled, cuda::set_fused_swiglu, true);
               ops.matmul_swiglu({x.h, w.layers[l].w_gate_up, Tensor(), x.gate_up}, x.act);
             },
             /*opt_in=*/true);
  }
  list.add_gemm("down GEMM", L, b, d, f, 1, [&](int64_t l) {
    ops.matmul({x.act, w.layers[l].w_down, Tensor(), x.h});
  });
  list.add_gemm("LM head", 1, b, double(c.vocab_size), d, 1, [&](int64_t) {
    ops.matmul({x.x, w.lm_head, Tensor(), x.logits});
  });
}

// The token's selection from this rank's logit slice, once per step after it (calls/step 0: not
// in the step's sum): the candidates each rank hands to the all-gather at T > 1 (Ops::top_k_rows:
// greedy's argmax, top-k 50, top-p's 256 with the slice's mass, by selection), and a draw on the
// slice as one rank would draw it: top-k 50 (selection), top-p 0.9 by a sort of the row and from
// the best 256 candidates.
void add_sampling_ops(OpList& list, const ModelConfig& c, const DecodeFixture& fx, OpInputs& x, cudaStream_t stream) {
  const double row_bytes = double(fx.batch) * c.vocab_size * 2;
  list.add("candidates: greedy (k 1)", 0, row_bytes, 0, false,
           [&, stream](int64_t) { cuda::top_k({x.logits, x.cand1, 1, 0.0f}, stream); });
  list.add("candidates: top-k 50", 0, row_bytes, 0, false,
           [&, stream](int64_t) { cuda::top_k({x.logits, x.cand50, 50, 0.0f}, stream); });
  list.add("candidates: 256 + mass (top-p)", 0, row_bytes, 0, false,
           [&, stream](int64_t) { cuda::top_k({x.logits, x.cand256, 256, 1.0f}, stream); });
  list.add("draw: top-k 50 (selection)", 0, row_bytes, 0, false, [&, stream](int64_t) {
    cuda::sample({x.logits, x.uniforms, x.tokens, 1.0f, 50, 1.0f}, stream);
  });
  list.add("draw: top-p 0.9 (row sorted)", 0, row_bytes, 0, false, [&, stream](int64_t) {
    cuda::sample({x.logits, x.uniforms, x.tokens, 1.0f, 0, 0.9f}, stream);
  });
  // What CudaOps::sample_rows tries first for top-p (the sort above runs only for rows it defers).
  list.add("draw: top-p 0.9 from 256 candidates", 0, row_bytes, 0, false, [&, stream](int64_t) {
    cuda::sample_from_candidates({x.logits, x.uniforms, x.tokens, 1.0f, 0, 0.9f}, 256, stream);
  });
}

// The ops `pick` selects, each timed alone, in step order.
std::vector<OpTiming> time_selected_ops(BenchEnv& env, const ModelConfig& c, const ModelWeights& w,
                                        const DecodeFixture& fx, const std::function<bool(const OpBench&)>& pick) {
  OpInputs x = make_inputs(env, c, fx);
  OpList list;
  add_attention_ops(list, env.ops, c, w, fx, x);
  add_mlp_ops(list, env.ops, c, w, fx, x);
  add_sampling_ops(list, c, fx, x, env.stream);
  std::vector<OpTiming> out;
  for (OpBench& op : list.ops()) {
    if (!pick(op)) continue;
    const int64_t layers = op.uses_cache ? fx.cache_layers : c.num_hidden_layers;
    op.t.us = 1e3 * time_median_ms(env.stream, env.timing, [&](int i) { op.run(i % layers); }, &env.flush);
    out.push_back(op.t);
  }
  return out;
}

}  // namespace

std::vector<OpTiming> time_decode_ops(BenchEnv& env, const ModelConfig& c, const ModelWeights& w,
                                      const DecodeFixture& fx, bool opt_in) {
  return time_selected_ops(env, c, w, fx, [opt_in](const OpBench& op) { return op.opt_in == opt_in; });
}

std::vector<OpTiming> time_decode_gemvs(BenchEnv& env, const ModelConfig& c, const ModelWeights& w,
                                        const DecodeFixture& fx) {
  const bool fused = fx.batch <= cuda::kGemvMaxRows;
  // The fused GEMVs' rows (the opt-in pass's, present at batch <= kGemvMaxRows only) and every
  // weight GEMM the default step runs alone.
  return time_selected_ops(env, c, w, fx, [fused](const OpBench& op) {
    return op.opt_in || (op.t.weight_gemm && !(fused && op.fused_by_default));
  });
}

}  // namespace gqa::bench
