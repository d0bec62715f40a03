#include "model/model_checks.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"

namespace gqa {
namespace {

void expect_shape(const Tensor& t, const Shape& shape, const std::string& name) {
  GQA_CHECK(t.defined(), "model weights: " << name << " is missing");
  GQA_CHECK(t.shape() == shape, "model weights: " << name << " has shape " << shape_str(t.shape()) << ", but this "
                                                   << "config and shard give it " << shape_str(shape));
}

}  // namespace

void check_plan_fits(const ModelConfig& config, const ShardPlan& plan, int rank) {
  const ShardDims& d = plan.dims();
  GQA_CHECK(d.n_heads == config.num_attention_heads && d.n_kv_heads == config.num_key_value_heads &&
                d.intermediate_size == config.intermediate_size && d.vocab_size == config.vocab_size,
            "shard plan made for heads " << d.n_heads << ", kv heads " << d.n_kv_heads << ", ffn " << d.intermediate_size
                                          << ", vocab " << d.vocab_size << " does not match the model config (heads "
                                          << config.num_attention_heads << ", kv heads " << config.num_key_value_heads
                                          << ", ffn " << config.intermediate_size << ", vocab " << config.vocab_size
                                          << ")");
  GQA_CHECK(rank >= 0 && rank < plan.world_size(),
            "rank " << rank << " is outside the shard plan's " << plan.world_size() << " ranks");
}

const RankShard& checked_rank_shard(const ModelConfig& config, const ShardPlan& plan, int rank, int world_size) {
  GQA_CHECK(plan.world_size() == world_size,
            "shard plan is for " << plan.world_size() << " ranks but the communicator has " << world_size);
  check_plan_fits(config, plan, rank);
  return plan.rank(rank);
}

void check_weights_fit(const ModelConfig& c, const RankShard& s, int rank, const ModelWeights& w) {
  GQA_CHECK(static_cast<int64_t>(w.layers.size()) == c.num_hidden_layers,
            "model weights: " << w.layers.size() << " layers, but the config has num_hidden_layers "
                              << c.num_hidden_layers);
  const size_t fields = std::size(kLayerTensors);
  std::vector<bool> held(w.layers.size() * fields, false);  // [layer][field]
  for (const HeldTensor& t : held_tensors(c, s, rank)) {
    expect_shape(t.of(w), t.shape, t.name);
    if (t.layer >= 0) held[static_cast<size_t>(t.layer) * fields + static_cast<size_t>(t.field)] = true;
  }
  for (size_t l = 0; l < w.layers.size(); ++l) {
    for (size_t f = 0; f < fields; ++f) {
      const LayerTensor& t = kLayerTensors[f];
      GQA_CHECK(held[l * fields + f] || !(w.layers[l].*t.member).defined(),
                "model weights: layer " << l << " has " << t.what << " on rank " << rank
                                        << ", which this config and rank do not hold"
                                        << (*t.held_by ? std::string(" (") + t.held_by + ")" : std::string()));
    }
  }
}

void check_step_input(const StepInput& in, const PagedKvCache& cache, const KvCacheShape& expected,
                      int64_t vocab_size) {
  const KvCacheShape& cs = cache.shape();
  GQA_CHECK(cs.num_layers == expected.num_layers && cs.n_kv_heads_local == expected.n_kv_heads_local &&
                cs.head_dim == expected.head_dim,
            "forward step: the KV cache has " << cs.num_layers << " layers of " << cs.n_kv_heads_local
                                              << " KV heads x " << cs.head_dim << ", but this model's shard needs "
                                              << expected.num_layers << " of " << expected.n_kv_heads_local << " x "
                                              << expected.head_dim << " (Model::kv_cache_shape)");
  const int64_t n_seqs = static_cast<int64_t>(in.block_tables.size());
  GQA_CHECK(n_seqs > 0, "forward step: no block tables (one per sequence of the step)");
  GQA_CHECK(in.rope_through >= -1 && in.rope_through <= INT32_MAX,
            "forward step: rope_through " << in.rope_through << " is neither -1 nor a position");
  const int64_t bs = cs.block_size;
  std::vector<int64_t> last_block(static_cast<size_t>(n_seqs), -1);  // each table's entries used
  for (size_t t = 0; t < in.tokens.size(); ++t) {
    GQA_CHECK(in.tokens[t] >= 0 && in.tokens[t] < vocab_size,
              "forward step: token " << in.tokens[t] << " at index " << t << " is outside the vocabulary [0, "
                                     << vocab_size << ")");
    const int64_t seq = in.token_seq[t], pos = in.positions[t];
    GQA_CHECK(seq >= 0 && seq < n_seqs,
              "forward step: token " << t << " belongs to sequence " << seq << " of " << n_seqs << " block tables");
    GQA_CHECK(pos >= 0, "forward step: token " << t << " has the negative position " << pos);
    const std::vector<int32_t>& table = in.block_tables[seq];
    GQA_CHECK(pos / bs < static_cast<int64_t>(table.size()),
              "forward step: position " << pos << " of token " << t << " is past its block table (" << table.size()
                                        << " blocks of " << bs << ")");
    last_block[seq] = std::max(last_block[seq], pos / bs);
    const int64_t slot = int64_t{table[pos / bs]} * bs + pos % bs;
    GQA_CHECK(in.slots[t] == slot, "forward step: token " << t << " (sequence " << seq << ", position " << pos
                                                          << ") writes slot " << in.slots[t]
                                                          << ", but its block table gives slot " << slot);
  }
  for (int64_t seq = 0; seq < n_seqs; ++seq) {
    const std::vector<int32_t>& table = in.block_tables[seq];
    for (int64_t j = 0; j <= last_block[seq]; ++j) {
      GQA_CHECK(table[j] >= 0 && table[j] < cs.num_blocks,
                "forward step: block_tables[" << seq << "][" << j << "] = " << table[j] << " is not one of the cache's "
                                              << cs.num_blocks << " blocks");
    }
  }
  std::vector<int32_t> slots = in.slots;
  std::sort(slots.begin(), slots.end());
  const auto twice = std::adjacent_find(slots.begin(), slots.end());
  GQA_CHECK(twice == slots.end(), "forward step: two tokens write cache slot " << *twice);
}

void check_sample_request(const SampleSpec& spec, const std::vector<double>& u, size_t rows) {
  GQA_CHECK(rows > 0, "forward_sample: the step has no logit rows to draw from");
  GQA_CHECK(u.size() == rows, "forward_sample: " << u.size() << " uniforms for " << rows << " logit rows");
  for (size_t r = 0; r < u.size(); ++r) {
    GQA_CHECK(u[r] >= 0.0 && u[r] < 1.0, "forward_sample: uniform " << u[r] << " of row " << r << " is not in [0, 1)");
  }
  GQA_CHECK(std::isfinite(spec.temperature) && spec.temperature >= 0.0f,
            "forward_sample: temperature must be finite and >= 0, got " << spec.temperature);
  GQA_CHECK(spec.top_k >= 0, "forward_sample: top_k must be >= 0, got " << spec.top_k);
  GQA_CHECK(spec.top_p > 0.0f && spec.top_p <= 1.0f, "forward_sample: top_p must be in (0, 1], got " << spec.top_p);
}

}  // namespace gqa
