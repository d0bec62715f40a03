// The backend-neutral operations the model is written in.
//
// Every backend (cpu/ reference in f32, cuda/ in bf16/f16) implements this interface with the
// same semantics; the CPU twin of each op is the oracle its CUDA version is tested against.
// Kernels know nothing about ranks: every tensor here is this rank's local slice.
// Shapes use: n = tokens in the step, d = hidden size, f = FFN width on this rank,
// hq/hkv = query/KV heads on this rank, hd = head_dim.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace gqa {

struct EmbeddingArgs {
  Tensor ids;          // i32 [n] global token ids
  Tensor table;        // [vocab_local, d] rows [vocab_begin, vocab_begin + vocab_local) of the vocab
  int64_t vocab_begin = 0;
  Tensor out;          // [n, d]; rows whose id is outside this slice are zero (summed across ranks)
};

struct RmsNormArgs {
  Tensor x;            // [n, d]
  Tensor weight;       // [d]
  Tensor out;          // [n, d] (may alias x)
  float eps = 1e-6f;
};

// y = x W^T (+ bias): W in torch.nn.Linear layout. W is meant to be a weight: on the CUDA backend
// with programmatic dependent launch on (the default; GQA_PDL=0 turns it off), a call of 1-8 rows
// runs a GEMV that starts copying W before the previous kernel on the stream has finished
// (kernels/cuda/gemv.h), so W must not be written by the work still in flight on the stream when
// the call is made (a stream synchronisation, or a cudaMemcpy of W, before the call is enough).
struct MatmulArgs {
  Tensor x;            // [n, k]
  Tensor w;            // [m, k]
  Tensor bias;         // [m] or undefined
  Tensor y;            // [n, m]
};

// Rotary embedding in the Hugging Face "rotate_half" convention, in place:
// for i < hd/2: (x_i, x_{i+hd/2}) rotated by angle pos * inv_freq[i]; cos and sin are both
// multiplied by attention_scaling (YaRN's mscale, 1 otherwise).
struct RopeArgs {
  Tensor x;            // [n, heads, hd], rotated in place
  Tensor positions;    // i32 [n]
  Tensor inv_freq;     // f32 [hd/2]
  float attention_scaling = 1.0f;
};

// Paged KV cache of one layer on this rank: block b, slot s holds the K (V) of one token.
// k_cache, v_cache: [num_blocks, block_size, hkv, hd]
struct KvWriteArgs {
  Tensor k;            // [n, hkv, hd]
  Tensor v;            // [n, hkv, hd]
  Tensor k_cache;
  Tensor v_cache;
  Tensor slots;        // i32 [n] flat slot = block * block_size + offset
};

// Causal GQA attention over the paged cache. Query head h reads KV head h / (hq / hkv).
// Token t of sequence s attends to that sequence's cache positions [0, positions[t]].
struct AttentionArgs {
  Tensor q;            // [n, hq, hd]
  Tensor k_cache;      // [num_blocks, block_size, hkv, hd]
  Tensor v_cache;      // [num_blocks, block_size, hkv, hd]
  Tensor block_tables; // i32 [n_seqs, max_blocks_per_seq]
  Tensor token_seq;    // i32 [n] index of each token's sequence in block_tables
  Tensor positions;    // i32 [n]
  Tensor out;          // [n, hq, hd]
  float scale = 1.0f;  // usually 1/sqrt(hd)
  // Host-side facts about the batch, so a GPU backend can pick a kernel and a split-KV plan
  // without reading device memory. The CPU reference ignores them.
  int64_t max_context = 0;         // largest positions[t] + 1 in the batch
  bool one_token_per_seq = false;  // a pure decode step: each sequence feeds exactly one token
};

// Sizes of one attention call, read off the tensor shapes (by of(), once the ranks of q,
// k_cache and block_tables are checked).
struct AttentionDims {
  int64_t n = 0;           // tokens
  int64_t hq = 0;          // query heads on this rank
  int64_t hkv = 0;         // KV heads on this rank
  int64_t hd = 0;          // head_dim
  int64_t num_blocks = 0;  // cache blocks
  int64_t block_size = 0;  // tokens per cache block
  int64_t n_seqs = 0;      // rows of block_tables
  int64_t max_blocks = 0;  // block table entries per sequence
  int64_t group() const { return hq / hkv; }

  static AttentionDims of(const AttentionArgs& a) {
    AttentionDims d;
    d.n = a.q.dim(0);
    d.hq = a.q.dim(1);
    d.hd = a.q.dim(2);
    d.num_blocks = a.k_cache.dim(0);
    d.block_size = a.k_cache.dim(1);
    d.hkv = a.k_cache.dim(2);
    d.n_seqs = a.block_tables.dim(0);
    d.max_blocks = a.block_tables.dim(1);
    return d;
  }
};

// The residual add that ends one block fused with the RMSNorm that starts the next:
//   x += residual; out = rmsnorm(x) * weight   (out may alias residual or x)
// With x_out defined the sum goes there instead and x is left as it was:
//   x_out = x + residual; out = rmsnorm(x_out) * weight   (x_out overlaps none of x, residual, weight, out)
struct AddRmsNormArgs {
  Tensor x;            // [n, d] residual stream, updated in place unless x_out is defined
  Tensor residual;     // [n, d] block output to add
  Tensor weight;       // [d]
  Tensor out;          // [n, d]
  float eps = 1e-6f;
  Tensor x_out = Tensor();  // [n, d] or undefined
};

// Rotary embedding of q and k fused with writing K and V into the paged cache: the three calls
//   rope(q); rope(k); kv_write(k, v, k_cache, v_cache, slots)
// in one pass, with the same semantics (see RopeArgs and KvWriteArgs); k is left rotated too.
struct RopeKvWriteArgs {
  Tensor q;            // [n, hq, hd], rotated in place (packed form: the rotated q is written here)
  Tensor k;            // [n, hkv, hd], rotated in place and written to the cache (packed form: none)
  Tensor v;            // [n, hkv, hd] (packed form: none)
  Tensor k_cache;      // [num_blocks, block_size, hkv, hd]
  Tensor v_cache;      // [num_blocks, block_size, hkv, hd]
  Tensor slots;        // i32 [n] flat slot = block * block_size + offset
  Tensor positions;    // i32 [n]
  Tensor inv_freq;     // f32 [hd/2]
  float attention_scaling = 1.0f;
  // Packed form (the output of one QKV GEMM over several tokens, whose rows interleave q, k and v):
  // qkv [n, (hq + 2 hkv) hd], each row q | k | v, read only; q is then the output and k, v are
  // left undefined. kernels/packed_qkv.h checks it.
  Tensor qkv = Tensor();
};

// SwiGLU of the fused gate/up projection: each row of gate_up is this rank's gate columns then
// its up columns (one GEMM against the stacked [gate; up] weight).
struct SwigluArgs {
  Tensor gate_up;      // [n, 2f]
  Tensor out;          // [n, f] = silu(gate) * up (must not overlap gate_up)
};

// Token sampling on the backend, with the semantics of kernels/cpu/sampling.cpp (the reference
// the runtime's Sampler uses): greedy when temperature is 0, else top-k, softmax at the
// temperature, top-p, and the first candidate whose cumulative mass exceeds u * kept mass.
struct SampleSpec {
  float temperature = 0.0f;  // 0 = greedy (argmax, ties to the lowest id)
  int64_t top_k = 0;         // 0 = all tokens
  float top_p = 1.0f;        // in (0, 1]
};

// The rule's order of (logit, token id) candidates: the larger logit first, ties to the lower id.
struct CandidateOrder {
  bool operator()(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) const {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  }
};

// One vocabulary slice's share of a logit row (vocabulary-parallel ranks; Ops::top_k_rows): its
// best (logit, id) pairs in CandidateOrder, whether the slice has ids the pairs leave out, and its
// mass: the sum over all its ids of exp((logit - pairs[0].logit) / temperature).
struct SliceCandidates {
  std::vector<std::pair<float, int32_t>> pairs;
  bool truncated = false;
  double mass = 0;
};

// Ops::top_k_rows' floats per row for k pairs: the pairs, the NaN flag, the mass (two floats).
constexpr int64_t top_k_row_width(int64_t k) { return 2 * k + 3; }

// One row of Ops::top_k_rows (without its NaN flag, which the caller checks) for a vocabulary
// slice of `slice_size` ids starting at `first_id`: its pairs with global ids (at most slice_size:
// an empty slice's row is never read), whether the slice has more ids, and its mass.
inline SliceCandidates slice_of_top_k_row(const float* row, int64_t k, int64_t first_id, int64_t slice_size) {
  SliceCandidates s;
  for (int64_t c = 0; c < k && c < slice_size && row[2 * c + 1] >= 0.0f; ++c) {
    s.pairs.push_back({row[2 * c], static_cast<int32_t>(first_id + static_cast<int64_t>(row[2 * c + 1]))});
  }
  s.truncated = slice_size > static_cast<int64_t>(s.pairs.size());
  s.mass = static_cast<double>(row[2 * k + 1]) + static_cast<double>(row[2 * k + 2]);
  return s;
}

class Ops {
 public:
  virtual ~Ops() = default;

  virtual Device device() const = 0;
  virtual DType compute_dtype() const = 0;  // activations and weights

  // Memory: tensors on this backend's device; copies from/to host memory, converting f32 on
  // the host side to/from the tensor's dtype.
  virtual Tensor alloc(DType dtype, Shape shape) = 0;
  virtual void upload_f32(const float* src, Tensor dst) = 0;
  virtual void upload_i32(const int32_t* src, Tensor dst) = 0;
  virtual void download_f32(const Tensor& src, float* dst) = 0;
  virtual void synchronize() = 0;
  // Opaque stream handle handed to the Communicator (nullptr on the CPU).
  virtual void* stream() = 0;

  virtual void embedding(const EmbeddingArgs& a) = 0;
  virtual void rmsnorm(const RmsNormArgs& a) = 0;
  virtual void matmul(const MatmulArgs& a) = 0;
  virtual void rope(const RopeArgs& a) = 0;
  virtual void kv_write(const KvWriteArgs& a) = 0;
  virtual void attention(const AttentionArgs& a) = 0;
  virtual void swiglu(const SwigluArgs& a) = 0;
  virtual void add(const Tensor& x, Tensor y) = 0;  // y += x, same shape
  // One token per row of logits [m, vocab] (this backend's tensor, the whole vocabulary), drawn
  // where the logits are: u[r] in [0, 1) is row r's uniform (unused when greedy). Waits for the
  // result; throws gqa::Error "logits contain NaN" for a row with NaN.
  virtual std::vector<int32_t> sample_rows(const Tensor& logits, const SampleSpec& spec,
                                           const std::vector<double>& u) = 0;
  // Each row's k best (logit, column) of logits [m, n] (this backend's tensor) in CandidateOrder,
  // selected where the logits are, so only m * top_k_row_width(k) floats come back: per row k
  // pairs (logit, column as f32: exact below 2^24), padded with (-inf, -1) past n; then 1 if the
  // row holds a NaN (its pairs are then all padding) else 0; then, when temperature > 0, the row's
  // mass sum_j exp((l_j - l_max) / temperature) (f64, summed over every column) as two f32, hi and
  // lo = mass - hi (0 and 0 for temperature 0, a NaN row or an all -inf row). k >= 1. Waits for the
  // result.
  virtual std::vector<float> top_k_rows(const Tensor& logits, int64_t k, float temperature) = 0;
  // Graphs: run `record` (a fixed sequence of ops on this backend's stream) as a replayable
  // graph cached under `key`: the first call runs it directly (a warm-up), the second records it,
  // later calls replay it, so every tensor it touches must keep its address while the key is in
  // use. Backends without graphs run it.
  virtual bool supports_graphs() const { return false; }
  virtual void run_graph(const std::string& key, const std::function<void()>& record) {
    (void)key;
    record();
  }
  virtual void clear_graphs() {}

  // A hint, no effect on any result: the ops after this call will read `weights` (2-D, in this
  // order), so a backend may start pulling them toward its compute units now, while the ops in
  // between leave its memory bandwidth idle (CudaOps: an L2 prefetch, opt-in). Nothing by default.
  virtual void prefetch_weights(const std::vector<Tensor>& weights) { (void)weights; }

  // The CPU reference and the CUDA kernel (which reads the residual stream once) implement it.
  virtual void add_rmsnorm(const AddRmsNormArgs& a) = 0;

  // A projection whose input is made by the norm before it: norm.out is the projection's x (mm.x
  // or a.x below). norm.residual may be undefined: then norm is a plain RMSNorm (x_out undefined
  // too). Unfused by default (the norm, then the projection; the CPU reference); a GPU backend may
  // instead normalise inside the projection's GEMV as it reads its input (norm.x_out defined, so
  // every block reads the old residual stream), leaving norm.out unwritten.
  virtual void add_rmsnorm_matmul_rope_kv_write(const AddRmsNormArgs& norm, const MatmulArgs& mm,
                                                const RopeKvWriteArgs& rk) {
    norm_only(norm);
    matmul_rope_kv_write(mm, rk);
  }
  virtual void add_rmsnorm_matmul_swiglu(const AddRmsNormArgs& norm, const MatmulArgs& a, const Tensor& act) {
    norm_only(norm);
    matmul_swiglu(a, act);
  }

  // The MLP half of a layer: norm, then act = SwiGLU of gate_up (as add_rmsnorm_matmul_swiglu), then
  // down (down.x is act). Those two calls by default (the CPU reference); a GPU backend may run the
  // three as one kernel (CudaOps: the opt-in persistent MLP kernel), leaving norm.out and gate_up.y
  // unwritten.
  virtual void add_rmsnorm_mlp(const AddRmsNormArgs& norm, const MatmulArgs& gate_up, const Tensor& act,
                               const MatmulArgs& down) {
    add_rmsnorm_matmul_swiglu(norm, gate_up, act);
    matmul(down);
  }

  // The QKV projection and its rope_kv_write: mm's product is rk.qkv (the packed form). Unfused by
  // default (matmul, then rope_kv_write; the CPU reference); a GPU backend may override it with a
  // GEMV whose epilogue rotates and writes q and the cache, leaving rk.qkv unwritten.
  virtual void matmul_rope_kv_write(const MatmulArgs& mm, const RopeKvWriteArgs& rk) {
    matmul(mm);
    rope_kv_write(rk);
  }

  // act = silu(gate) * up of y = x w^T, where w stacks gate_proj over up_proj ([2f, k]) and a.y
  // ([n, 2f]) is the product's scratch. Unfused by default (matmul, then swiglu; the CPU
  // reference); a GPU backend may override it with a GEMV whose epilogue applies SwiGLU, leaving
  // a.y unwritten.
  virtual void matmul_swiglu(const MatmulArgs& a, const Tensor& act) {
    matmul(a);
    swiglu({a.y, act});
  }

  // Unfused by default (the CPU reference); a GPU backend overrides it with one kernel that
  // reads q, k and v once.
  // (The packed form has no default: a backend splits it, CpuOps on the host.)
  virtual void rope_kv_write(const RopeKvWriteArgs& a) {
    GQA_CHECK(!a.qkv.defined(), "rope_kv_write: this backend does not take the packed qkv form");
    rope({a.q, a.positions, a.inv_freq, a.attention_scaling});
    rope({a.k, a.positions, a.inv_freq, a.attention_scaling});
    kv_write({a.k, a.v, a.k_cache, a.v_cache, a.slots});
  }

 protected:
  // The norm of the add_rmsnorm_matmul_* ops on its own: add_rmsnorm, or rmsnorm without a residual.
  void norm_only(const AddRmsNormArgs& a) {
    if (a.residual.defined()) return add_rmsnorm(a);
    GQA_CHECK(!a.x_out.defined(), "add_rmsnorm: x_out " << shape_str(a.x_out.shape()) << " given without a residual");
    rmsnorm({a.x, a.weight, a.out, a.eps});
  }
};

}  // namespace gqa
