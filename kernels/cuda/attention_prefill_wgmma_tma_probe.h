// A diagnostic for the wgmma prefill's TMA build (attention_prefill_wgmma.h): one K/V tile loaded
// both ways in one block, by the TMA build's boxes (tma_kv_tile: the tensor maps of
// tensor_map.h, prefill_tma_boxes.h's boxes, the TMA unit's swizzle) and by the swizzle build's
// cp.async copies, and both copied out byte for byte. Where the TMA build's attention fails its
// test, equal tiles here clear the loads and leave the barrier accounting or the flash logic; a
// difference names the chunk that went elsewhere. bf16/f16, head_dim 64 or 128; sm_90a code.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "kernels/ops.h"

namespace gqa::cuda {

struct PrefillTmaTiles {
  int box_rows = 0;                      // keys per box at the call's block size
  std::vector<unsigned char> k_tma, v_tma;        // the K and V tiles as TMA wrote them
  std::vector<unsigned char> k_copied, v_copied;  // as the swizzle build's copies wrote them
  int bad_key_tma = 0, bad_key_copied = 0;        // the smallest bad key each recorded (INT32_MAX: none)
};

// Keys [start, start + 128) of KV head g of sequence `seq` of the prefill call `a` (validated as
// attention_prefill_wgmma validates it; start a multiple of 128). Throws gqa::Error for a call
// the TMA build would not load by TMA (its block size gives no whole boxes: tma_box_rows 0, or
// the cache cannot be described), for seq, g or start out of range, or without
// prefill_wgmma_available(). Synchronises the device.
PrefillTmaTiles probe_prefill_tma_tiles(const AttentionArgs& a, int seq, int start, int g);

}  // namespace gqa::cuda
