// Prompt tokens per prefill step by default: what gqa-generate's --prefill-chunk 0 (auto) resolves
// to, GenerateRequest's default and gqa-bench's.
//
// 4096 on the cuda backend: the chunk every whole-model prefill figure of gqa-bench is measured
// with (tensor-core tiles want long chunks); 512 on cpu (its f32 activations) and wherever every
// row's logits are kept (a chunk of rows x the vocab slice in f32 on the device).
#pragma once

#include <cstdint>
#include <string>

namespace gqa {

inline constexpr int64_t kCpuPrefillChunk = 512, kCudaPrefillChunk = 4096;

// The chunk for a resolved backend ("cpu" or "cuda").
inline int64_t auto_prefill_chunk(const std::string& backend, bool keep_logits) {
  return backend == "cuda" && !keep_logits ? kCudaPrefillChunk : kCpuPrefillChunk;
}

}  // namespace gqa
