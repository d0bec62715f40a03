#include "launch/generate_help_env.h"

namespace gqa {

const std::vector<std::string>& generate_env_paragraphs() {
  static const std::vector<std::string> paragraphs = {
      "Environment (cuda backend): GQA_PDL=0 turns off programmatic dependent launch of the decode kernels (on by "
          "default), GQA_PDL_EARLY=0 has the split merge and the RMSNorms let their successor launch only after their "
          "wait instead of before it; GQA_DECODE_BULK=0 makes the decode attention load K/V with per-thread cp.async "
          "instead of cp.async.bulk, GQA_DECODE_GROUP_COPIES=0 with one bulk copy per K/V row instead of one per 8 "
          "keys' rows (where the cache has one KV head per rank); GQA_GEMV_BULK=0 makes the decode GEMVs load their "
          "weights per thread instead of by bulk copies into shared memory; GQA_PREFILL_WGMMA=0 runs prefill "
          "attention on the mma.sync kernel instead of the wgmma one (H100/H200; other GPUs always take mma.sync), "
          "GQA_PREFILL_WGMMA_TMA_OVERLAP=0 on the wgmma kernel's TMA build without its softmax under the previous "
          "tile's P V, GQA_PREFILL_WGMMA_TMA=0 on its swizzle build (its producer warpgroup's threads copy the K/V "
          "tiles) instead of its TMA builds (a TMA box per page: block sizes 8, 16, 32, 64 or a multiple of 128; "
          "other sizes copy as the swizzle build does), with GQA_PREFILL_WGMMA_SWIZZLE=0 too on unswizzled tiles (the "
          "producer build), with GQA_PREFILL_WGMMA_PRODUCER=0 too on the basic build (GQA_PREFILL_WGMMA_PINGPONG=1: "
          "its ping-pong build); GQA_FUSED_SWIGLU=0 and GQA_FUSED_ROPE=0 unfuse SwiGLU from the gate/up GEMV and RoPE "
          "+ the KV-cache write from the QKV GEMV at decode batches <= 8 (all of these are on by default: measured "
          "faster on an H200). Opt-in (measured slower there): GQA_PREFILL_WGMMA_OVERLAP=1 runs the wgmma producer "
          "build with each warpgroup's softmax overlapping its previous tile's P V, GQA_PREFILL_WGMMA_ROTATE=1 has "
          "the producer, swizzle and TMA builds' blocks take their K/V tiles in rotated order (not the default TMA "
          "overlap build's: with GQA_PREFILL_WGMMA_TMA_OVERLAP=0), GQA_PREFILL_WGMMA_LATE_TURNS=1 has the TMA build's "
          "warpgroups pass their tensor-core turn only once their GEMM has completed (over TMA_OVERLAP; not with "
          "GQA_PREFILL_WGMMA_TMA=0, nor under GQA_PREFILL_WGMMA_OVERLAP=1, the producer build's overlap, which wins "
          "over every TMA build), GQA_GEMV_MMA=1 the 9-16-row decode GEMMs on the tensor-core GEMV, "
          "GQA_DECODE_CLUSTER=1 the decode attention's split reduction in thread-block clusters, "
          "GQA_DECODE_ONE_WAVE_FUSED=1 its splits at one block per SM merged in each row's last block instead of the "
          "occupancy plan's splits and the merge kernel (on 132 SMs: where batch x KV heads per rank is 15-66, at 8K+ "
          "contexts; faster alone, slower in the step), GQA_L2_PREFETCH=1 an L2 prefetch of the O and gate/up weights "
          "during decode attention (with PDL); GQA_FUSED_NORM=1 makes the residual add + RMSNorm the prologue of the "
          "fused QKV and gate/up GEMVs (decode batches <= 4; those GEMVs then take the per-thread-load build instead "
          "of the default bulk-copy one), GQA_GEMV_RING=1 streams the decode GEMVs' weights through a ring of "
          "bulk-copy stages in a grid of resident blocks (decode batches <= 2; with GQA_FUSED_NORM=1 each block "
          "computes the add + RMSNorm once), GQA_MLP_PERSISTENT=1 runs a decode layer's MLP half (add + RMSNorm, "
          "gate/up + SwiGLU, down) as one persistent kernel, one block per SM (decode batches <= 2). Opt-in, mixed "
          "there: GQA_PREFILL_WGMMA_LAZY_RESCALE=1 has the wgmma prefill rescale its output only where a row's max "
          "rises by more than 8 in log2 units (a factor 2^8 in its probabilities; the same speed in one run, 2-7% "
          "faster in another), GQA_DECODE_FUSED_MERGE=1 has the decode attention's last split block merge the splits "
          "at the occupancy plan's split count (no merge kernel; plans of <= 32 splits: steps at batch 16 within ~2% "
          "of the default either way). Opt-in, not yet run on a GPU: GQA_PREFILL_WGMMA_PERSISTENT=1 runs the wgmma "
          "prefill's TMA overlap build as one block per SM looping over the row blocks, loading the next block's q "
          "and first K/V tiles under the current one's work (over TMA_OVERLAP, under LATE_TURNS; not with "
          "GQA_PREFILL_WGMMA_TMA=0). GQA_DECODE_KV_PREFETCH=0 stops the decode attention prefetching its first K/V "
          "stages into the L2 while it waits for the QKV GEMV (with PDL; on by default: ~1% faster steps at 8K batch "
          "1). GQA_CUDA_SYNC_DEBUG=1 synchronises after every kernel (and turns graphs off) so an error names its "
          "kernel. GQA_GPU_TOP_K=0 makes ranks (T > 1) download their logit slice and pick its candidates on the host "
          "instead of on the GPU, GQA_TOP_K_SELECT=0 makes every GPU top-k / top-p choice (the ranks' candidates, and "
          "sampling at one rank) sort the row instead of selecting (fallbacks). GQA_REQUIRE_GPU=1 makes finding no "
          "GPU an error (--backend auto then does not fall back to cpu; launch/gpu-check.sh sets it). These switches "
          "take 1 or 0 (also true/false, on/off, yes/no); the cuda backend refuses any other value.",
      "Environment (cpu backend): GQA_CPU_THREADS=N sets the threads its attention uses per rank (default: the "
          "machine's hardware threads; its GEMMs run in OpenBLAS where the build has it, whose threads "
          "OPENBLAS_NUM_THREADS sets).",
      "Environment (communicators): GQA_NCCL_INIT_TIMEOUT_S=S ends the job when a rank is still inside NCCL's setup "
          "after S seconds (default 300; 0: no limit). GQA_COLLECTIVE_TIMEOUT_S=S ends it when a rank has waited S "
          "seconds in one MPI collective or, at T > 1, one step (default 1800; 0: no limit)."};
  return paragraphs;
}

}  // namespace gqa
