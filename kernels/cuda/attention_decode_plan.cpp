// Host-side planning of the split-KV decode: head chunks, split count, workspace layout.
#include <algorithm>
#include <cstdint>
#include <optional>

#include "core/error.h"
#include "kernels/cuda/attention_decode.h"

namespace gqa::cuda {
namespace {

constexpr const char* kOp = "cuda attention (decode)";

}  // namespace

int decode_head_chunk(int64_t group) {
  int chunk = 1;
  while (chunk < group && chunk < kDecodeMaxHeadChunk) chunk *= 2;
  return chunk;
}

int64_t DecodePlan::blocks() const { return int64_t(head_chunks) * num_splits; }

DecodePlan plan_decode(int64_t n_tokens, int64_t hkv, int64_t group, int64_t max_context, int64_t target_blocks,
                       int force_splits, int head_chunk, int cluster, int64_t cluster_blocks) {
  GQA_CHECK(n_tokens >= 1 && hkv >= 1 && group >= 1 && max_context >= 1,
            kOp << ": cannot plan " << n_tokens << " tokens, " << hkv << " KV heads, group " << group
                << ", max_context " << max_context);
  DecodePlan plan;
  GQA_CHECK(head_chunk >= 0, kOp << ": negative head chunk " << head_chunk);
  plan.head_chunk = head_chunk > 0 ? head_chunk : decode_head_chunk(group);
  plan.head_chunks = static_cast<int>((group + plan.head_chunk - 1) / plan.head_chunk);
  const int64_t tiles = (max_context + kDecodeTileKeys - 1) / kDecodeTileKeys;
  const int64_t base = n_tokens * hkv * plan.head_chunks;  // blocks without splitting
  int64_t want = force_splits > 0 ? force_splits : target_blocks / base;  // floor: no partial second wave
  want = std::clamp<int64_t>(want, 1, tiles);
  GQA_CHECK(cluster >= 0, kOp << ": negative cluster size " << cluster);
  // Clusters only where the plan has a cluster's worth of splits (or forces a count): padding a
  // plan of fewer splits would mostly launch empty blocks that hold their SM until their
  // cluster's one real split is done. The wanted count rounds down to whole clusters within the
  // device's cluster slots, so the padded count still fits the wave.
  GQA_CHECK(cluster_blocks >= 0, kOp << ": negative cluster slots " << cluster_blocks);
  bool use_cluster = cluster > 0 && plan.head_chunks == 1;
  if (use_cluster && force_splits <= 0) {
    const int64_t slots = cluster_blocks > 0 ? std::min(target_blocks, cluster_blocks) : target_blocks;
    const int64_t whole = std::clamp<int64_t>(slots / base, 1, tiles) / cluster * cluster;
    use_cluster = whole >= cluster;
    if (use_cluster) want = whole;
  }
  plan.tiles_per_split = static_cast<int>((tiles + want - 1) / want);
  plan.num_splits = static_cast<int>((tiles + plan.tiles_per_split - 1) / plan.tiles_per_split);
  if (use_cluster) {  // whole clusters of splits (the extra ones hold no keys)
    plan.cluster = cluster;
    plan.num_splits = (plan.num_splits + cluster - 1) / cluster * cluster;
  }
  GQA_CHECK(plan.blocks() <= INT32_MAX, kOp << ": " << plan.blocks() << " blocks per KV head exceed the grid");
  return plan;
}

std::optional<DecodePlan> plan_decode_one_wave_fused(int64_t n_tokens, int64_t hkv, int64_t group, int64_t max_context,
                                                     int64_t sm_count, int head_chunk) {
  GQA_CHECK(sm_count >= 1, kOp << ": " << sm_count << " SMs");
  DecodePlan plan = plan_decode(n_tokens, hkv, group, max_context, sm_count, 0, head_chunk);
  const int64_t blocks = n_tokens * hkv * plan.blocks();
  if (plan.num_splits < 2 || plan.num_splits > kDecodeOneWaveFusedMaxSplits || 2 * blocks < sm_count) {
    return std::nullopt;
  }
  plan.fused_merge = true;
  return plan;
}

DecodePartials decode_partials_floats(int64_t n_tokens, int64_t hq, int64_t hkv, int64_t hd, const DecodePlan& plan) {
  DecodePartials parts;
  if (plan.partials() == 1) return parts;
  const size_t rows = size_t(n_tokens) * hq;
  parts.lse_offset = rows * plan.partials() * hd;  // a multiple of hd >= 16 floats: lse stays aligned
  parts.lse_floats = rows * plan.partials();
  parts.counter_offset = parts.lse_offset + parts.lse_floats;
  if (plan.fused_merge) parts.counters = size_t(n_tokens) * hkv * plan.head_chunks;
  return parts;
}

}  // namespace gqa::cuda
