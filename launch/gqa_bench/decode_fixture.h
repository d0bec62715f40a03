// A decode step ready to run: `batch` sequences that already hold `context - 1` tokens of K/V in
// a paged cache, and the one new token per sequence at position context - 1.
//
// Instead of a real prefill, the cache is filled with random K/V directly on the device (the
// attention reads the same bytes either way). The sequences' blocks are shuffled across the
// cache, as a long-running server's would be, so the attention kernels never see one contiguous
// run of memory per sequence.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "launch/gqa_bench/bench_env.h"
#include "model/model.h"
#include "runtime/kv_cache.h"

namespace gqa::bench {

struct DecodeFixture {
  int64_t context = 0;
  int64_t batch = 0;
  std::unique_ptr<PagedKvCache> cache;  // null when not even one layer's K/V fits
  int64_t cache_layers = 0;             // < model_layers when the whole cache does not fit
  int64_t model_layers = 0;
  double kv_bytes_per_layer = 0;        // K + V of all sequences in one layer (what attention reads)
  StepInput step;                       // the decode step: one token per sequence
  std::string note;                     // why the whole step cannot run, when it cannot
  bool full() const { return cache && cache_layers == model_layers; }
};

// Builds the cache for `model` with as many layers as the free memory allows (all of them, or
// enough for the per-op timings when the whole cache does not fit, e.g. batch 16 x 128K on an H100).
DecodeFixture make_decode_fixture(BenchEnv& env, const Model& model, int64_t context, int64_t batch, uint32_t seed);

}  // namespace gqa::bench
