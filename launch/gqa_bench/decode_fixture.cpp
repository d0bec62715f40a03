#include "launch/gqa_bench/decode_fixture.h"

#include "launch/gqa_bench/report.h"
#include "runtime/kv_page_size.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>
#include <thread>

namespace gqa::bench {
namespace {

constexpr int64_t kBlockSize = kDefaultKvBlockSize;  // (the page size users get)
constexpr double kHeadroomBytes = 3.0 * (1 << 30);  // activations, attention workspaces, allocator slack

// Reserves context positions for each sequence, then deals all their blocks out again in a
// random order; the new token of sequence s goes to position context - 1.
void build_step(DecodeFixture& fx, int64_t vocab, uint32_t seed) {
  PagedKvCache& cache = *fx.cache;
  std::vector<int32_t> blocks;
  for (int64_t s = 0; s < fx.batch; ++s) {
    const int seq = cache.add_sequence();
    cache.append(seq, fx.context);
    const std::vector<int32_t>& bt = cache.block_table(seq);
    blocks.insert(blocks.end(), bt.begin(), bt.end());
  }
  std::mt19937 rng(seed);
  std::shuffle(blocks.begin(), blocks.end(), rng);
  const int64_t per_seq = static_cast<int64_t>(blocks.size()) / fx.batch;
  const int64_t pos = fx.context - 1;
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(vocab - 1));
  StepInput& in = fx.step;
  for (int64_t s = 0; s < fx.batch; ++s) {
    in.block_tables.emplace_back(blocks.begin() + s * per_seq, blocks.begin() + (s + 1) * per_seq);
    const int32_t block = in.block_tables.back()[pos / kBlockSize];
    in.tokens.push_back(token(rng));
    in.positions.push_back(static_cast<int32_t>(pos));
    in.token_seq.push_back(static_cast<int32_t>(s));
    in.slots.push_back(static_cast<int32_t>(block * kBlockSize + pos % kBlockSize));
    in.logit_rows.push_back(s);  // every sequence needs its next-token logits
  }
}

// Waits for the device to settle before a new fixture is timed. Runs 6 and 8: whatever was timed
// first after the 128K batch-16 fixture (~86 GB) was freed ran 7-20% slow for ~200 ms, every kernel
// alike (the first step of the choices pass and of the GEMV sweep at 8K batch 1: 7.35 ms against
// ~6.0-6.3 after it); the driver scrubbing the freed memory is the likely cause, not confirmed.
// So: at least the time a ~400 GB/s scrub of the previous fixture's bytes would take (and 50 ms),
// then until the free memory has not changed over 4 polls 25 ms apart (a heuristic: freed memory
// may count as free before it is scrubbed, so the first wait is what guards); at most 3 s.
void settle_after(double previous_bytes) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const double min_ms = std::max(50.0, 1.5 * previous_bytes / 400e9 * 1e3);
  double last = free_device_bytes();
  int stable = 0;
  double ms = 0;
  while (ms < 3000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    const double now = free_device_bytes();
    stable = now == last ? stable + 1 : 0;
    last = now;
    ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (ms >= min_ms && stable >= 4) break;
  }
  if (ms >= 500) progress(strf("the device took %.0f ms to settle after making a decode fixture", ms));
}

}  // namespace

DecodeFixture make_decode_fixture(BenchEnv& env, const Model& model, int64_t context, int64_t batch, uint32_t seed) {
  DecodeFixture fx;
  fx.context = context;
  fx.batch = batch;
  fx.model_layers = model.config().num_hidden_layers;
  const int64_t blocks = batch * ((context + kBlockSize - 1) / kBlockSize);
  KvCacheShape shape = model.kv_cache_shape(blocks, kBlockSize);
  fx.kv_bytes_per_layer = 2.0 * blocks * kBlockSize * shape.n_kv_heads_local * shape.head_dim * 2.0;
  const double usable = free_device_bytes() - kHeadroomBytes;
  fx.cache_layers = std::min<int64_t>(fx.model_layers, std::max<int64_t>(0, int64_t(usable / fx.kv_bytes_per_layer)));
  if (fx.cache_layers < fx.model_layers) {
    fx.note = strf("K/V of %lld layers need %.1f GB, %.1f GB free: whole step not run", (long long)fx.model_layers,
                   fx.kv_bytes_per_layer * fx.model_layers / 1e9, (usable + kHeadroomBytes) / 1e9);
    fx.cache_layers = std::min<int64_t>(fx.cache_layers, 8);  // enough to rotate the per-op timings
  }
  if (fx.cache_layers == 0) {
    fx.note = strf("one layer's K/V (%.1f GB) does not fit", fx.kv_bytes_per_layer / 1e9);
    return fx;
  }
  shape.num_layers = fx.cache_layers;
  fx.cache = std::make_unique<PagedKvCache>(shape, env.ops.compute_dtype(), env.ops);
  for (int64_t l = 0; l < fx.cache_layers; ++l) {
    fill_uniform(fx.cache->k(l), seed + 2 * static_cast<uint32_t>(l), 1.0f, 0.0f, env.stream);
    fill_uniform(fx.cache->v(l), seed + 2 * static_cast<uint32_t>(l) + 1, 1.0f, 0.0f, env.stream);
  }
  build_step(fx, model.config().vocab_size, seed);
  env.ops.synchronize();
  // (the bytes of the fixture made before this one: most often freed by now)
  settle_after(env.last_fixture_bytes);
  env.last_fixture_bytes = fx.kv_bytes_per_layer * double(fx.cache_layers);
  return fx;
}

}  // namespace gqa::bench
