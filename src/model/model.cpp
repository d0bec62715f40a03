#include "model/model.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <optional>
#include <sstream>

#include "model/context_bucket.h"
#include "model/model_checks.h"
#include "model/rope.h"
#include "model/step_buffers.h"
#include "parallel/collective_watch.h"

namespace gqa {

// Views of the step's inputs and activations (in buffers_). n = tokens in the step.
struct Model::Step {
  int64_t n = 0;
  Tensor ids;           // i32 [n]
  Tensor positions;     // i32 [n]
  Tensor token_seq;     // i32 [n]
  Tensor slots;         // i32 [n]
  Tensor block_tables;  // i32 [n_seqs, max_blocks]
  Tensor inv_freq;      // f32 [hd/2]
  float rope_scaling = 1.0f;
  int64_t max_context = 0;
  bool one_token_per_seq = false;
  Tensor x;             // [n, d] residual stream
  Tensor x_alt;         // [n, d] its second buffer (few tokens; StepBuffers::x_alt) or undefined
  Tensor h;             // [n, d] normed input of a block / block output before the residual add
};

Model::Model(const ModelConfig& config, const ShardPlan& plan, Ops& ops, Communicator& comm, ModelWeights weights)
    : config_(config),
      plan_(plan),
      shard_(checked_rank_shard(config, plan, comm.rank(), comm.size())),
      ops_(ops),
      comm_(comm),
      w_(std::move(weights)) {
  static std::atomic<uint64_t> next_instance{0};
  instance_ = ++next_instance;
  config_.validate("the model's config");  // (one edited after from_file, or made in code)
  check_weights_fit(config_, shard_, comm.rank(), w_);
  GQA_CHECK(config_.vocab_size <= (int64_t{1} << 24),
            "vocab_size " << config_.vocab_size << " is above 2^24: token ids travel between ranks as f32, exact only below");
  const int64_t hd = config_.head_dim;
  buffers_ = std::make_unique<StepBuffers>(
      ops_, StepBufferDims{config_.hidden_size, shard_.q_heads.size() * hd, shard_.kv_heads.size() * hd,
                           shard_.ffn.size(), shard_.vocab.size(), hd / 2});
}

Model::~Model() = default;

KvCacheShape kv_cache_shape_for(const ModelConfig& config, const RankShard& shard, int64_t num_blocks,
                                int64_t block_size) {
  KvCacheShape s;
  s.num_layers = config.num_hidden_layers;
  s.num_blocks = num_blocks;
  s.block_size = block_size;
  s.n_kv_heads_local = shard.kv_heads.size();
  s.head_dim = config.head_dim;
  return s;
}

KvCacheShape Model::kv_cache_shape(int64_t num_blocks, int64_t block_size) const {
  return kv_cache_shape_for(config_, shard_, num_blocks, block_size);
}

void Model::all_reduce(Tensor& t) {
  if (comm_.size() > 1) comm_.all_reduce_sum(t, ops_.stream());
}

namespace {

// Every rank's candidates of one row, in rank order.
Model::Candidates union_of(const Model::RowSlices& row) {
  Model::Candidates all;
  for (const SliceCandidates& s : row) all.insert(all.end(), s.pairs.begin(), s.pairs.end());
  return all;
}

}  // namespace

std::vector<float> Model::forward(const StepInput& in, PagedKvCache& cache) {
  return gather_logits(run_step(in, cache));
}

std::vector<int32_t> Model::forward_sample(const StepInput& in, PagedKvCache& cache, const SampleSpec& spec,
                                           const std::vector<double>& u) {
  check_sample_request(spec, u, in.logit_rows.size());
  GQA_CHECK(comm_.size() == 1 || spec.temperature == 0.0f,
            "forward_sample: the logits are split over " << comm_.size()
                << " ranks; drawing where they are works for greedy decoding (temperature 0) only at T > 1");
  const int64_t m = run_step(in, cache);
  if (comm_.size() == 1) {
    try {
      return ops_.sample_rows(buffers_->logits(m), spec, u);
    } catch (const NanLogitsError& e) {
      throw AgreedError(e.what());  // (the only rank: in step with itself; a program may end normally)
    }
  }
  std::vector<int32_t> ids;
  for (const RowSlices& row : top_k_across_ranks(m, 1, 0.0f)) {
    const Candidates c = union_of(row);
    const auto best = std::min_element(c.begin(), c.end(), CandidateOrder{});
    ids.push_back(best->second);
  }
  return ids;
}

// What a step's watch names at T > 1 (run_step, and the first wait on its results): with NCCL the
// all-reduces run on the device's stream, so a rank whose peer hangs waits in the step, under the
// collective watch (parallel/collective_watch.h), rather than in an MPI call.
constexpr const char* kStepDeviceWork = "a step (its all-reduces wait for every rank)";

// The step up to this rank's logit rows in the step buffers; returns how many rows.
int64_t Model::run_step(const StepInput& in, PagedKvCache& cache) {
  const int64_t n = static_cast<int64_t>(in.tokens.size());
  GQA_CHECK(n > 0, "forward step has no tokens");
  GQA_CHECK(in.positions.size() == in.tokens.size() && in.token_seq.size() == in.tokens.size() &&
                in.slots.size() == in.tokens.size(),
            "forward step: tokens, positions, token_seq and slots differ in length");
  const int64_t n_seqs = static_cast<int64_t>(in.block_tables.size());
  const int64_t m = static_cast<int64_t>(in.logit_rows.size());
  last_rows_ = 0;  // (until this step's logits are there)
  check_step_input(in, cache, kv_cache_shape(cache.shape().num_blocks, cache.shape().block_size), config_.vocab_size);
  int64_t width = 1;  // block-table columns
  for (const auto& bt : in.block_tables) width = std::max<int64_t>(width, static_cast<int64_t>(bt.size()));
  const int64_t max_pos = *std::max_element(in.positions.begin(), in.positions.end());
  config_.check_within_sliding_window(max_pos, "this step");

  // A pure decode step whose logits are every row can be replayed from a CUDA graph. Its
  // attention plan and block-table width are then fixed for a context bucket.
  bool all_rows = m == n;
  for (int64_t i = 0; all_rows && i < m; ++i) all_rows = in.logit_rows[i] == i;
  const bool graph = graphs_ && n == n_seqs && all_rows && ops_.supports_graphs() &&
                     (comm_.size() == 1 || comm_.graph_capturable());
  Step s;
  s.n = n;
  s.max_context = max_pos + 1;
  s.one_token_per_seq = n == n_seqs;
  if (graph) {
    const int64_t bs = cache.shape().block_size;
    s.max_context = context_bucket(max_pos + 1);
    width = std::max(width, (s.max_context + bs - 1) / bs);
  }
  // At T > 1 the whole step is watched: with NCCL a rank whose peer hangs blocks wherever the host
  // next waits on the stuck stream (the staging ring's upload, a full launch queue), not in MPI.
  std::optional<CollectiveWatch> watch;
  if (comm_.size() > 1) watch.emplace(comm_.rank(), kStepDeviceWork);
  upload_step(in, width, s);

  auto device_part = [&] {
    run_layers(s, cache);
    lm_head(s, in.logit_rows);
  };
  if (graph) {
    // Everything the recording bakes in. Graphs outlive a Model (they live in the Ops), and a freed
    // address comes back from cudaMalloc: so the key names this model instance (its weights and
    // step buffers) and the cache by process-unique ids, never by address.
    std::ostringstream key;
    key << "decode model=" << instance_ << " cache=" << cache.id() << " n=" << n << " width=" << width
        << " context=" << s.max_context << " buffers=" << buffers_->generation() << " rope_scale=" << std::hexfloat
        << s.rope_scaling;
    ops_.run_graph(key.str(), device_part);
  } else {
    device_part();
  }
  last_rows_ = m;
  return m;
}

// Host inputs of the step into the step buffers (the same addresses every step).
void Model::upload_step(const StepInput& in, int64_t width, Step& s) {
  const int64_t n = s.n, n_seqs = static_cast<int64_t>(in.block_tables.size());
  StepBuffers& b = *buffers_;
  b.reserve(n, n_seqs * width, static_cast<int64_t>(in.logit_rows.size()));
  s.ids = b.ids(n);
  s.positions = b.positions(n);
  s.token_seq = b.token_seq(n);
  s.slots = b.slots(n);
  s.block_tables = b.block_tables(n_seqs, width);
  ops_.upload_i32(in.tokens.data(), s.ids);
  ops_.upload_i32(in.positions.data(), s.positions);
  ops_.upload_i32(in.token_seq.data(), s.token_seq);
  ops_.upload_i32(in.slots.data(), s.slots);
  std::vector<int32_t> tables(n_seqs * width, 0);  // padding is never read: positions bound it
  for (int64_t q = 0; q < n_seqs; ++q) {
    std::copy(in.block_tables[q].begin(), in.block_tables[q].end(), tables.begin() + q * width);
  }
  ops_.upload_i32(tables.data(), s.block_tables);

  // Dynamic NTK scaling depends on the furthest position of the forward, as in transformers (a
  // prompt's chunks: the prompt's last position; StepInput::rope_through).
  const int64_t max_pos = std::max<int64_t>(*std::max_element(in.positions.begin(), in.positions.end()), in.rope_through);
  const RopeFrequencies rope = rope_frequencies(config_, max_pos);
  s.inv_freq = b.inv_freq();
  ops_.upload_f32(rope.inv_freq.data(), s.inv_freq);
  s.rope_scaling = rope.attention_scaling;
  s.x = b.x(n);
  s.x_alt = b.x_alt(n);
  s.h = b.h(n);
}

void Model::run_layers(Step& s, PagedKvCache& cache) {
  // Vocab-parallel embedding: each rank fills the rows of its vocab slice, the sum completes it.
  ops_.embedding({s.ids, w_.embed, shard_.vocab.begin, s.x});
  all_reduce(s.x);
  // Each block leaves its (all-reduced) output in h; adding it to x is fused with the next norm,
  // which the backend may fuse into the projection after it.
  const float eps = static_cast<float>(config_.rms_norm_eps);
  for (int64_t l = 0; l < config_.num_hidden_layers; ++l) {
    const AddRmsNormArgs attn_norm = l == 0 ? AddRmsNormArgs{s.x, Tensor(), w_.layers[0].attn_norm, s.h, eps}
                                            : next_norm(s, w_.layers[l].attn_norm);
    attention_block(l, s, cache, attn_norm);
    mlp_block(l, s, next_norm(s, w_.layers[l].mlp_norm));
  }
  ops_.add_rmsnorm({s.x, s.h, w_.final_norm, s.x, eps});  // the LM head's input, in x
}

// x + h, normalised into h: in place on x, or (decode steps) into the other residual buffer, which
// then becomes x.
AddRmsNormArgs Model::next_norm(Step& s, const Tensor& weight) const {
  AddRmsNormArgs a{s.x, s.h, weight, s.h, static_cast<float>(config_.rms_norm_eps)};
  if (s.x_alt.defined()) {
    a.x_out = s.x_alt;
    std::swap(s.x, s.x_alt);
  }
  return a;
}

void Model::attention_block(int64_t l, Step& s, PagedKvCache& cache, const AddRmsNormArgs& norm) {
  const LayerWeights& w = w_.layers[l];
  const int64_t n = s.n, hd = config_.head_dim;
  const int64_t hq = shard_.q_heads.size();
  // Column-parallel projections of this rank's query and KV heads: one GEMM against the stacked
  // [q; k; v] weight, whose rows interleave q | k | v per token. rope_kv_write takes that packed
  // output: the rotated q goes to its own buffer, k and v (k rotated) straight to the cache.
  const Tensor qkv = buffers_->qkv(n);
  Tensor q3 = buffers_->q(n).reshape({n, hq, hd});
  RopeKvWriteArgs rk{q3, Tensor(), Tensor(), cache.k(l), cache.v(l), s.slots, s.positions, s.inv_freq, s.rope_scaling};
  rk.qkv = qkv;
  ops_.add_rmsnorm_matmul_rope_kv_write(norm, {s.h, w.wqkv, w.bqkv, qkv}, rk);

  // Decode: the attention reads little next to the O and gate/up weights that follow, so the
  // backend may pull those in meanwhile (a hint; CudaOps' opt-in L2 prefetch).
  if (s.one_token_per_seq) ops_.prefetch_weights({w.wo, w.w_gate_up});
  Tensor attn = buffers_->attn(n).reshape({n, hq, hd});
  ops_.attention({q3, cache.k(l), cache.v(l), s.block_tables, s.token_seq, s.positions, attn,
                  1.0f / std::sqrt(static_cast<float>(hd)), s.max_context, s.one_token_per_seq});
  // Row-parallel o_proj: every rank holds a partial sum over its heads; the bias is added once.
  ops_.matmul({attn.reshape({n, hq * hd}), w.wo, w.bo, s.h});
  all_reduce(s.h);
}

void Model::mlp_block(int64_t l, Step& s, const AddRmsNormArgs& norm) {
  const LayerWeights& w = w_.layers[l];
  const int64_t n = s.n;
  Tensor gate_up = buffers_->gate_up(n);  // [n, 2f] column-parallel: this rank's FFN columns
  Tensor act = buffers_->act(n);          // [n, f]
  // gate/up column-parallel, down row-parallel: s.h gets this rank's partial sum
  ops_.add_rmsnorm_mlp(norm, {s.h, w.w_gate_up, Tensor(), gate_up}, act, {act, w.w_down, Tensor(), s.h});
  all_reduce(s.h);
}

// Vocab-parallel LM head on the requested rows into the step buffers' logits [m, vocab_local].
void Model::lm_head(Step& s, const std::vector<int64_t>& rows) {
  const int64_t m = static_cast<int64_t>(rows.size());
  if (m == 0) return;
  Tensor local_logits = buffers_->logits(m);
  bool contiguous = true;
  for (int64_t i = 0; i < m; ++i) {
    GQA_CHECK(rows[i] >= 0 && rows[i] < s.n, "logit row " << rows[i] << " outside the step's " << s.n << " tokens");
    contiguous = contiguous && rows[i] == rows[0] + i;
  }
  if (contiguous) {  // one GEMM for a run of rows (a whole prompt, or one decode token)
    ops_.matmul({s.x.slice_rows(rows[0], rows[0] + m), w_.lm_head, Tensor(), local_logits});
  } else {
    for (int64_t i = 0; i < m; ++i) {
      ops_.matmul({s.x.slice_rows(rows[i], rows[i] + 1), w_.lm_head, Tensor(), local_logits.slice_rows(i, i + 1)});
    }
  }
}

std::vector<Model::Candidates> Model::forward_top_k(const StepInput& in, PagedKvCache& cache, int64_t k) {
  GQA_CHECK(k >= 1 && k <= kMaxTopK, "forward_top_k: k = " << k << " outside [1, " << kMaxTopK << "]");
  std::vector<Candidates> rows;
  for (const RowSlices& row : top_k_across_ranks(run_step(in, cache), k, 0.0f)) rows.push_back(union_of(row));
  return rows;
}

std::vector<Model::RowSlices> Model::forward_slices(const StepInput& in, PagedKvCache& cache, int64_t k,
                                                    float temperature) {
  GQA_CHECK(k >= 1 && k <= kMaxTopK, "forward_slices: k = " << k << " outside [1, " << kMaxTopK << "]");
  GQA_CHECK(std::isfinite(temperature) && temperature > 0, "forward_slices: temperature must be > 0, got " << temperature);
  return top_k_across_ranks(run_step(in, cache), k, temperature);
}

std::vector<float> Model::last_logits() { return gather_logits(last_rows_); }

// Each rank's k best logits of each row (descending, ties to the lowest column), whether its
// slice has a NaN, and its slice's mass at the temperature: top_k_row_width(k) floats per row,
// selected by the backend where the logits are (Ops::top_k_rows; columns are exact in f32 below
// 2^24), all-gathered; every rank then holds the same slices, with global ids. A rank whose slice
// is empty (vocab_size < T * chunk) sends zeros. Greedy (k = 1) picks the largest, ties to the
// lowest id, as argmax over the whole row would.
std::vector<Model::RowSlices> Model::top_k_across_ranks(int64_t m, int64_t k, float temperature) {
  const int64_t width = top_k_row_width(k);
  Tensor mine = Tensor::host(DType::kF32, {m, width});
  if (m > 0 && shard_.vocab.size() > 0) {
    const CollectiveWatch watch(comm_.rank(), kStepDeviceWork);
    const std::vector<float> local = ops_.top_k_rows(buffers_->logits(m), k, temperature);
    std::copy(local.begin(), local.end(), mine.data_as<float>());
  }
  Tensor all = Tensor::host(DType::kF32, {comm_.size(), m, width});
  comm_.all_gather(mine, all, nullptr);
  std::vector<RowSlices> rows(m, RowSlices(comm_.size()));
  for (int64_t i = 0; i < m; ++i) {
    for (int r = 0; r < comm_.size(); ++r) {
      const float* c = all.data_as<float>() + (r * m + i) * width;
      if (c[2 * k] != 0.0f) {  // (every rank holds the same gathered rows: all throw here together)
        throw AgreedError("logits contain NaN (row " + std::to_string(i) + ", the vocabulary slice of rank " +
                          std::to_string(r) + ")");
      }
      const Range vr = plan_.rank(r).vocab;
      rows[i][r] = slice_of_top_k_row(c, k, vr.begin, vr.size());
    }
  }
  return rows;
}

// Every rank's logit slice, padded to a common chunk so every rank sends the same count.
std::vector<float> Model::gather_logits(int64_t m) {
  const int64_t vocab = config_.vocab_size, local = shard_.vocab.size(), chunk = plan_.vocab_chunk();
  std::vector<float> out(m * vocab);
  if (m == 0) return out;
  if (comm_.size() == 1) {  // the whole row is here
    ops_.download_f32(buffers_->logits(m), out.data());
    return out;
  }
  Tensor padded = Tensor::host(DType::kF32, {m, chunk});
  {
    const CollectiveWatch watch(comm_.rank(), kStepDeviceWork);  // (the download; not the gather below)
    if (local == chunk) {
      ops_.download_f32(buffers_->logits(m), padded.data_as<float>());
    } else {
      std::vector<float> host_local(m * local);
      ops_.download_f32(buffers_->logits(m), host_local.data());
      for (int64_t i = 0; i < m; ++i) {
        std::memcpy(padded.data_as<float>() + i * chunk, host_local.data() + i * local, local * sizeof(float));
      }
    }
  }
  Tensor gathered = Tensor::host(DType::kF32, {comm_.size(), m, chunk});
  comm_.all_gather(padded, gathered, nullptr);
  for (int r = 0; r < comm_.size(); ++r) {
    const Range vr = plan_.rank(r).vocab;
    for (int64_t i = 0; i < m; ++i) {
      const float* src = gathered.data_as<float>() + (r * m + i) * chunk;
      std::memcpy(out.data() + i * vocab + vr.begin, src, vr.size() * sizeof(float));
    }
  }
  return out;
}

}  // namespace gqa
