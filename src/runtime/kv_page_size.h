// The KV cache's default page ("block") size in tokens: what gqa-generate's --block-size, gqa-bench
// and gqa-attn-bench use unless told otherwise.
//
// 256 since the eighteenth session (16 before), from gqa-attn-bench's page-size columns on an H200
// (runs 8 and 10; bench/results/gpu-check-NVIDIA-H200-20261126-232445.md and -20261127-012153.md):
// the decode attention of one 70B T=8 rank at batch 16 took 78.0 / 78.2 us at 32K on shuffled
// 256-token pages (80.6% / 80.5% of copy) against 80.4 / 80.9 us on 16-token pages, and 266.8 /
// 267.1 us at 128K against 274.5 / 275.9; at batch 1 the two were within 0.5 us either way. The
// prefill's TMA build timed the same or faster at 256-token pages (runs 9-11: within 1% at 32K and
// 128K, up to ~9% faster at 8K). Fewer, longer pages mean fewer block-table reads and longer
// contiguous runs of K/V; the cost is memory: a sequence holds up to block_size - 1 unused
// positions per layer (0.2% of a 128K context, 3% of an 8K one, 25% of a 1K one).
// FlashAttention's paged KV cache also takes pages of multiples of 256 keys.
#pragma once

#include <cstdint>

namespace gqa {

inline constexpr int64_t kDefaultKvBlockSize = 256;

}  // namespace gqa
