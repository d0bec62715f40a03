// The tensor-core split-KV decode kernel (attention_decode_mma.cu), behind attention_decode():
// bf16/f16, head_dim 64 or 128. attention_decode() plans for it and launches it where it applies;
// the CUDA-core kernel (attention_decode.cu) serves f32 and the other head dims.
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda/attention_decode.h"
#include "kernels/ops.h"

namespace gqa::cuda {

namespace attn {
struct DecodeParams;
}

// Query heads per block of the tensor-core kernel: the 16 rows of one m16n8k16 A operand.
constexpr int kDecodeMmaHeadChunk = 16;
// Its cp.async pipeline depths: the default (2 blocks per SM at hd 128, 2 x 2 stages in flight
// per SM) and the deep one (1 block per SM at hd 128, 5 stages in flight) for the benchmark to
// compare; DecodeOptions::stages picks.
constexpr int kDecodeMmaStages = 3;
constexpr int kDecodeMmaDeepStages = 6;

// Whether the tensor-core kernel serves `a` (dtype of q, head_dim).
bool decode_mma_supported(const AttentionArgs& a);
// Its blocks per SM on the current device at a pipeline depth (sets its shared-memory limit as a
// side effect).
int decode_mma_occupancy(const AttentionArgs& a, int stages, bool bulk_copies, bool group_copies = false);
// Whether the grouped loader (DecodePlan::group_copies) can serve `a`: the tensor-core kernel, one
// KV head in the cache (a page's rows of consecutive keys contiguous) and pages of a multiple of 8
// keys.
bool decode_group_copies_fit(const AttentionArgs& a);
// The cluster reduction's build: how many of its blocks the device holds at once in whole
// clusters of kDecodeCluster (cudaOccupancyMaxActiveClusters x kDecodeCluster; a cluster's blocks
// share one GPC, so this can be below blocks per SM x SMs).
int decode_mma_cluster_slots(const AttentionArgs& a);
// Launches it for a plan made with head_chunk = kDecodeMmaHeadChunk, its stages and loader;
// merge_count: the fused merge's zeroed counters (DecodePlan::fused_merge; else unused).
void launch_decode_mma(const AttentionArgs& a, const attn::DecodeParams& p, const DecodePlan& plan,
                       cudaStream_t stream, int* merge_count = nullptr);

}  // namespace gqa::cuda
