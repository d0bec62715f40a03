// Causal flash prefill on Hopper warpgroup MMA (wgmma, sm_90a): the same function as
// attention_prefill_mma (and the CPU twin) for any valid input, on bf16/f16 with head_dim 64 or
// 128, over the paged KV cache. Two warpgroups of 64 packed (token, head-in-group) rows share each
// 128-key K/V tile; S = Q K^T with both operands in shared memory, O += P V with P from registers.
// Design and status: docs/attention-kernels.md.
//
// Opt-in until a GPU run has verified it: cuda::attention takes this path for a prefill only when
// prefill_wgmma_enabled() (GQA_PREFILL_WGMMA=1 or set_prefill_wgmma(true)) and
// prefill_wgmma_available() (a compute capability 9.0 device: H100, H200). Its tests switch it
// on themselves. The file is always compiled for sm_90a alone (kernels/cuda/CMakeLists.txt).
#pragma once

#include <cuda_runtime.h>

#include "kernels/ops.h"

namespace gqa::cuda {

bool prefill_wgmma_enabled();
void set_prefill_wgmma(bool on);

// Which build attention_prefill_wgmma runs: the ping-pong kernel (the two warpgroups take turns at
// the tensor cores, one's softmax under the other's GEMMs; stages handed over by mbarriers) when
// on (GQA_PREFILL_WGMMA_PINGPONG=1 or set_prefill_wgmma_pingpong(true)), else the basic one.
bool prefill_wgmma_pingpong();
void set_prefill_wgmma_pingpong(bool on);

// The third build, taking precedence over the other two when on (GQA_PREFILL_WGMMA_PRODUCER=1 or
// set_prefill_wgmma_producer(true)): the ping-pong kernel with one more warpgroup that issues every
// K/V copy, waits for them, fences them for wgmma and hands the tiles over, so the two consumer
// warpgroups run only the math. Written without a GPU; opt-in until measured.
bool prefill_wgmma_producer();
void set_prefill_wgmma_producer(bool on);

// The fourth, taking precedence over the others when on (GQA_PREFILL_WGMMA_OVERLAP=1 or
// set_prefill_wgmma_overlap(true)): the producer build whose consumer warpgroups also overlap the
// softmax of each tile with the P V of the one before (attention_prefill_wgmma.cu). Written
// without a GPU; opt-in until measured.
bool prefill_wgmma_overlap();
void set_prefill_wgmma_overlap(bool on);

// Whether the current device runs this build's sm_90a code (the only code with wgmma in it): a
// compute capability 9.0 device, confirmed once per device by a one-thread probe kernel. False
// elsewhere. Needs a device (call only where device_count() > 0).
bool prefill_wgmma_available();

// True when attention_prefill_wgmma has a kernel for a's dtype and head_dim (bf16/f16, 64/128).
// Looks only at q's dtype and shape; attention_prefill_wgmma still validates every tensor.
bool prefill_wgmma_supported(const AttentionArgs& a);

// Throws gqa::Error ("cuda attention (prefill, wgmma): ...") for invalid arguments, an
// unsupported dtype/head_dim, or a device without prefill_wgmma_available().
void attention_prefill_wgmma(const AttentionArgs& a, cudaStream_t stream);

}  // namespace gqa::cuda
