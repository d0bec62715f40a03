// Group-aware split-KV ("flash-decoding") attention for decode steps.
//
// One thread block per (token, KV head, chunk of its query heads, KV split) streams its
// split's keys through shared memory in 64-key tiles and scores every tile against all query
// heads of the chunk, so each K/V byte leaves HBM once per step for a chunk's heads. Two kernels
// run this plan: bf16/f16 at head_dim 64/128 on tensor cores (attention_decode_mma.h, chunks of
// 16 heads: any group up to 16 in one block), everything else on CUDA cores (this file's
// kernel, chunks of up to 8 heads). Larger groups (up to MQA, 64+) run ceil(group / chunk)
// chunk blocks side by side on the same tiles (adjacent in the grid, so the repeats are L2 hits,
// not guaranteed HBM-once). With more than one split, each block writes an f32 partial output
// and its log-sum-exp, and a second kernel merges the splits. Correct for any batch (it never
// assumes one token per sequence); attention() routes here when AttentionArgs::one_token_per_seq
// is set. The fused merge (DecodeOptions::fused_merge; always in the one-wave fused plan,
// plan_decode_one_wave_fused, an opt-in): the tensor-core kernel merges the splits itself, the
// last split block of each (token, KV head, head chunk) to finish reading them all, so no second
// kernel runs.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <optional>

#include "kernels/ops.h"

namespace gqa::cuda {

constexpr int kDecodeTileKeys = 64;  // keys per shared-memory tile
constexpr int kDecodeMaxHeadChunk = 8;

struct DecodePlan {
  int head_chunk = 1;       // query heads per block: CUDA cores 1, 2, 4 or 8 (the smallest power of two
                            // >= min(group, 8)); tensor cores 16 (kDecodeMmaHeadChunk)
  int head_chunks = 1;      // blocks per (token, KV head) to cover the group: ceil(group / head_chunk)
  int num_splits = 1;       // KV splits per (token, KV head, chunk)
  int tiles_per_split = 1;  // kDecodeTileKeys-key tiles per split
  bool tensor_cores = false;  // the mma kernel (attention_decode_mma.h) serves the call
  int stages = 0;             // its pipeline depth (0 for the CUDA-core kernel)
  bool bulk_copies = false;   // its loader: cp.async.bulk per K/V row (else 16-byte cp.async per thread)
  bool group_copies = false;  // with bulk_copies: one cp.async.bulk per 8 keys' rows (DecodeLoader::kGroups)
  int cluster = 0;            // its split reduction in thread-block clusters of this many splits
                              // (num_splits a multiple of it; 0: none)
  bool kv_prefetch = false;   // its L2 prefetch of the first stages before pdl_wait (DecodeOptions)
  bool fused_merge = false;   // its last split block merges the splits (DecodeOptions; num_splits > 1,
                              // no cluster): no merge kernel, arrival counters in the workspace
  int64_t blocks() const;   // decode-kernel blocks per KV head and token: head_chunks * num_splits
  // Partial outputs per (token, query head) for the merge kernel: num_splits, or one per cluster.
  int partials() const { return cluster > 0 ? num_splits / cluster : num_splits; }
};

// The most splits the process switch GQA_DECODE_FUSED_MERGE fuses (decode_fused_merge_enabled).
constexpr int kDecodeFusedMergeMaxSplits = 32;

// Whether a plan of `num_splits` merges in its last block (the fused merge): only the tensor-core
// kernel's, only with more than one split, at any count when the call asks (DecodeOptions), up to
// kDecodeFusedMergeMaxSplits when the process switch does.
constexpr bool decode_merge_fused(bool tensor_cores, int num_splits, bool call_asks, bool switch_on) {
  return tensor_cores && num_splits > 1 && (call_asks || (switch_on && num_splits <= kDecodeFusedMergeMaxSplits));
}

// Splits per thread-block cluster of the tensor-core kernel's cluster reduction (portable size).
constexpr int kDecodeCluster = 8;

// Query heads per decode block for a group: the smallest power of two >= min(group, 8).
int decode_head_chunk(int64_t group);

// The split plan, pure host arithmetic: as many splits as keep n_tokens * hkv * head_chunks *
// num_splits blocks within `target_blocks` (one wave at the kernel's occupancy: one block more
// would start a second wave and double the time), at least one, never more splits than tiles of
// max_context; force_splits > 0 asks for that many (clamped the same way). head_chunk 0 means
// decode_head_chunk(group) (the CUDA-core kernel); the tensor-core kernel passes 16.
// cluster > 0 (the tensor-core kernel's cluster reduction, for a plan of one head chunk): whole
// clusters of splits (the extra splits hold no keys), within cluster_blocks (the blocks the device
// holds at once in whole clusters; 0: target_blocks) as well, and only where that leaves at least
// one cluster's worth of splits (or a count is forced); else the plan has no clusters.
DecodePlan plan_decode(int64_t n_tokens, int64_t hkv, int64_t group, int64_t max_context, int64_t target_blocks,
                       int force_splits = 0, int head_chunk = 0, int cluster = 0, int64_t cluster_blocks = 0);

// The one-wave fused plan (an opt-in: GQA_DECODE_ONE_WAVE_FUSED=1 or
// set_decode_one_wave_fused(true); the default in the twenty-ninth to thirty-first sessions): the
// split count that gives one block per SM (plan_decode with target_blocks = sm_count), merged in
// each (token, KV head, head chunk)'s last block (the fused merge) instead of by the merge kernel,
// where that count is 2 to kDecodeOneWaveFusedMaxSplits and its blocks fill at least half the
// SMs; std::nullopt elsewhere (the occupancy plan and the merge kernel). Why it was written:
// gqa-attn-bench's sweep on an H200 (runs 13 and 15), the 70B T=8 shard at batch 16 (128
// blocks): 8 fused splits 27.6 / 27.9 us at 8K against the occupancy plan's 16 splits with the
// merge kernel 29.7 / 29.9, at 32K 74.7 / 76.3 against 76.8 / 79.5, at 128K 262.5 / 269.1
// against 261.8 / 267.6. But inside the decode step it is slower with PDL on (run 17,
// gqa-bench's choices at batch 16: 8.81 / 12.96 / 29.63 ms at 8K / 32K / 128K against 8.63 /
// 12.38 / 27.41 with the occupancy plan; bench/results/NVIDIA-H200-20261128-141810-decode-b16.md),
// so it is not the default. Not at batch 1 (128-256 splits: one block merging them all is slow)
// or where few blocks run (unmeasured).
constexpr int kDecodeOneWaveFusedMaxSplits = 8;
std::optional<DecodePlan> plan_decode_one_wave_fused(int64_t n_tokens, int64_t hkv, int64_t group, int64_t max_context,
                                                     int64_t sm_count, int head_chunk);

// Layout of the split partials in the workspace, in 4-byte words: part_o [rows, partials, hd] at
// 0, part_lse [rows, partials] at lse_offset (rows = n * hq; empty for one partial), then for a
// fused-merge plan the int32 arrival counters [n, hkv, head_chunks] at counter_offset (zero
// between calls: the last block of each resets its counter).
struct DecodePartials {
  size_t lse_offset = 0;
  size_t lse_floats = 0;
  size_t counter_offset = 0;
  size_t counters = 0;
  size_t total() const { return counter_offset + counters; }
};
DecodePartials decode_partials_floats(int64_t n_tokens, int64_t hq, int64_t hkv, int64_t hd, const DecodePlan& plan);

enum class DecodeLoader { kDefault, kCpAsync, kBulk, kGroups };

struct DecodeOptions {
  int num_splits = 0;              // 0: choose from max_context and the device; > 0: force (tests, tuning)
  int stages = 0;                  // tensor-core kernel's pipeline depth: 0 = default (3), or 3 / 6 (tuning)
  // Tensor-core kernel's K/V loader: kDefault is the process default (decode_bulk_enabled(), and
  // decode_group_copies_enabled()); kCpAsync: 16-byte cp.async per thread; kBulk: one
  // cp.async.bulk per K/V row; kGroups: one cp.async.bulk per 8 consecutive keys' rows, 8 x fewer
  // copies (3 stages, one KV head in the cache, pages of a multiple of 8 keys:
  // decode_group_copies_fit; else kBulk) (tuning, tests).
  DecodeLoader loader = DecodeLoader::kDefault;
  // Tensor-core kernel, one head chunk (group <= 16): the blocks of kDecodeCluster consecutive
  // splits form a cluster that merges their states through distributed shared memory, so the
  // merge kernel reads num_splits / kDecodeCluster partials (none when that is one). Opt-in
  // (3 stages, cp.async loader: asked for with the default loader, it takes cp.async). Opt-in:
  // measured slower than the plain plan at every gqa-attn-bench shape (H200, 2026-11-26).
  bool cluster_reduce = false;
  // Tensor-core kernel: before pdl_wait, each block asks the L2 for the K/V rows of its first
  // stages, so that under programmatic dependent launch their DRAM latency passes during the
  // predecessor's tail (the QKV GEMV in a decode step). A hint: results are the same. On for
  // every call by default (decode_kv_prefetch_enabled; GQA_DECODE_KV_PREFETCH=0 or
  // set_decode_kv_prefetch(false) leaves it to this flag): steps 0-2% slower with it in runs 6-7
  // on an H200, then, on today's defaults, 0.8-1.2% faster at 8K batch 1 in runs 10, 13 and 15,
  // at 32K 1.2% faster in run 10 and the same in run 13, 0.3% slower at 128K, the same at batch 16.
  bool kv_prefetch = false;
  // Tensor-core kernel, several splits: no merge kernel; each split block stores its partial, then
  // counts itself in (token, KV head, head chunk)'s arrival counter, and the last block to arrive
  // merges every split's partial of its rows into the output (attention_merge's arithmetic) and
  // resets the counter. Saves the merge kernel's launch (a few us per layer at batch 1); the merge
  // then runs on one block per (token, KV head, chunk). Asked for here at the occupancy plan's
  // split count (the one-wave fused plan, an opt-in, always takes it); opt-in there
  // (GQA_DECODE_FUSED_MERGE=1 or
  // set_decode_fused_merge(true) for calls that do not ask; the switch fuses plans of <= 32 splits,
  // i.e. batch 16 in gqa-bench): runs 6-7 on an H200, steps at batch 16 2% slower at 8K and 32K,
  // 1.5% faster at 128K (29.57 vs 30.03 ms). Not with
  // the cluster reduction: asking for both (options or switches) is an error. The counters are
  // zeroed int32 kept per device and stream, workspace or not (calls on one stream, or graphs
  // recorded on it, must not run concurrently with each other on another stream); where that
  // buffer cannot grow (a stream capture needing more than it holds) they sit after the call's
  // partials, zeroed on the stream by the call (decode_workspace_bytes counts them for that).
  bool fused_merge = false;
  void* workspace = nullptr;       // device scratch for the split partials, or nullptr: the stream's kept one
  size_t workspace_bytes = 0;      // its size; must be >= decode_workspace_bytes()
};

// The process-wide default of DecodeOptions::cluster_reduce for calls that do not ask for it
// (cuda::attention, the model): off unless GQA_DECODE_CLUSTER=1 or set_decode_cluster(true).
bool decode_cluster_enabled();
void set_decode_cluster(bool on);

// The process-wide default loader of the tensor-core kernel (DecodeLoader::kDefault): the bulk
// copies (faster than cp.async at every gqa-attn-bench --sweep shape on an H200, 2026-11-26:
// 128K batch 16 287 us vs 427, batch 1 35 us vs 40) unless GQA_DECODE_BULK=0 or set_decode_bulk(false).
bool decode_bulk_enabled();
void set_decode_bulk(bool on);

// The process-wide default of DecodeOptions::kv_prefetch: on unless GQA_DECODE_KV_PREFETCH=0 or
// set_decode_kv_prefetch(false) (twenty-ninth session, from runs 10, 13 and 15's step columns).
bool decode_kv_prefetch_enabled();
void set_decode_kv_prefetch(bool on);

// The process-wide default of DecodeOptions::fused_merge: off unless GQA_DECODE_FUSED_MERGE=1 or
// set_decode_fused_merge(true); then for plans of at most kDecodeFusedMergeMaxSplits splits only.
// (The last block merges alone: at batch 1 and 8K, 128 splits x 8 heads x 512 bytes from the L2
// by one block of 128 threads, where the merge kernel spreads one row over 1024 threads.)
// DecodeOptions::fused_merge asks for it at any split count (tests, benchmarks).
bool decode_fused_merge_enabled();
void set_decode_fused_merge(bool on);

// Whether calls that ask for neither the fused merge nor the cluster reduction, and force no split
// count, take the one-wave fused plan where it serves (plan_decode_one_wave_fused): off unless
// GQA_DECODE_ONE_WAVE_FUSED=1 or set_decode_one_wave_fused(true) (the default from the
// twenty-ninth session, on the sweeps of runs 13 and 15, until run 17 timed its steps slower).
bool decode_one_wave_fused_enabled();
void set_decode_one_wave_fused(bool on);
// Whether the process switches leave the one-wave fused plan to calls that ask for nothing else
// (decode_one_wave_fused_enabled, and neither GQA_DECODE_FUSED_MERGE nor GQA_DECODE_CLUSTER, which
// take precedence): the rule attention_decode applies and gqa's startup line describes.
bool decode_one_wave_fused_by_default();

// Whether DecodeLoader::kDefault (with the bulk copies on) takes the grouped copies where they fit:
// on unless GQA_DECODE_GROUP_COPIES=0 or set_decode_group_copies(false). The default since runs 6
// and 7 on an H200 (bench/results/gpu-check-NVIDIA-H200-20261126-134917.md): faster than one copy
// per row at every gqa-attn-bench shape (128K batch 16 276.7 us vs 296.3, 32K batch 16 80.5 vs
// 85.6, 8K batch 1 11.5 vs 12.0) and decode steps at batch 16 2% faster (32K: 12.79 ms vs 13.08);
// its tests and gqa-generate with it passed there.
bool decode_group_copies_enabled();
void set_decode_group_copies(bool on);

// The plan attention_decode would use for `a` on the current device.
DecodePlan describe_decode(const AttentionArgs& a, const DecodeOptions& opt = {});
// Scratch bytes attention_decode needs for `a` (0 when the plan has one split): f32 partial
// outputs and log-sum-exps, n * hq * num_splits * (hd + 1) floats, and the fused merge's counters
// (n * hkv * head_chunks int32).
size_t decode_workspace_bytes(const AttentionArgs& a, const DecodeOptions& opt = {});

// Requires a.max_context >= 1 (largest positions[t] + 1); a token beyond the plan's reach gets
// NaN outputs. Scratch for the split partials is opt.workspace when given, else a buffer kept per
// device and stream (grown as calls need, also while a graph records; never shrunk): no
// allocation per call, so a recorded decode step holds no memory node around the attention,
// which would cut programmatic dependent launch. Calls on one stream, or graphs recorded on it,
// must not run concurrently with each other on another stream (as for the fused merge's counters),
// nor come from two host threads at once (one call's merge would read the other's partials); a
// stream destroyed with calls pending must not hand its handle to a new stream before they end.
// Outgrown buffers are kept, never freed (a recorded graph may still point at them).
void attention_decode(const AttentionArgs& a, cudaStream_t stream, const DecodeOptions& opt = {});

}  // namespace gqa::cuda
