// Writes this step's K and V rows into the paged KV cache on the GPU: token t's [hkv, hd] row
// goes to flat slot slots[t] = block * block_size + offset, i.e. row slots[t] of the cache
// viewed as [num_blocks * block_size, hkv, hd]. k, v: [n, hkv, hd]; k_cache, v_cache:
// [num_blocks, block_size, hkv, hd], all one dtype (f32, f16, bf16); slots: i32 [n].
// A slot outside the cache stops the kernel with a named device-side assert (device_require.cuh;
// the CPU twin throws): the message is on stderr, the error surfaces at the next CUDA check
// (GQA_CUDA_SYNC_DEBUG=1 names this kernel there too).
#pragma once

#include <cuda_runtime.h>

#include "kernels/ops.h"

namespace gqa::cuda {

void kv_write(const KvWriteArgs& a, cudaStream_t stream);

}  // namespace gqa::cuda
