// The wgmma flash prefill (kernels/cuda/attention_prefill_wgmma.h) against the CPU twin on random
// paged batches (tests/cuda/attention_test_batch.h): relative error ||out - ref|| / ||ref|| < 1e-2
// in bf16 and f16, outputs poisoned with NaN bytes first, NaN never passes. Prompt lengths at the
// edges of its 128-key tiles and 128-row blocks (1, 63, 64, 65, 127, 128, 129, 255, 256, 257; 1500),
// chunked prefill after cached context, interleaved sequences, groups that do not divide the
// block, MHA/GQA/MQA, head_dim 64 and 128, block sizes 16 and 32 (and 5, 24, 40, 200), bad device
// data (NaN for exactly the tokens it touches), out aliasing q, and the dispatcher's switch (the
// default build: host_test_env_switches.cpp), NaN in the cache slots no key reaches, the TMA build's boxes at block sizes 8-256, and
// the TMA build equal to the swizzle build bit for bit, its late-turn variant equal to it bit for bit,
// the persistent build equal to the TMA overlap build bit for bit (its grid capped, so it loops),
// and the lazy rescale (GQA_PREFILL_WGMMA_LAZY_RESCALE) on prompts and on keys that grow along them.
// Every case runs through its nine builds (basic, ping-pong, ping-pong with a producer warpgroup,
// that with intra-warpgroup overlap, that on 128-byte-swizzled tiles, that loading its tiles
// by TMA, and the TMA build's late-turn, overlap and persistent variants), or the one
// GQA_TEST_WGMMA_BUILD names.
// Needs a compute capability 9.0 GPU (the kernel is sm_90a code): skips elsewhere, as without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/attention_prefill_wgmma.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/prefill_tma_boxes.h"
#include "tests/cuda/attention_test_batch.h"

namespace gqa {
namespace {

using attn_test::Batch;
using attn_test::Heads;
using attn_test::make_batch;
using attn_test::reference;
using attn_test::rel_error;
using attn_test::SeqSpec;

constexpr double kTol = 1e-2;

// Why the kernel cannot run here, or "" when it can.
std::string skip_reason() {
  if (cuda::device_count() == 0) return "no CUDA device";
  if (!cuda::prefill_wgmma_available()) return "not a compute capability 9.0 device (the wgmma prefill is sm_90a code)";
  return "";
}

#define GQA_SKIP_WITHOUT_WGMMA()                                   \
  do {                                                             \
    const std::string why = skip_reason();                         \
    if (!why.empty()) GTEST_SKIP() << why;                         \
  } while (0)

struct BuildOutput {
  const char* build;
  std::vector<float> out;
};

// The kernel's builds under test (cuda::kPrefillWgmmaBuilds: basic, ping-pong, ping-pong with a
// producer warpgroup, that with the consumers' softmax overlapping their previous tile's P V, that
// on swizzled tiles, that by TMA, and the TMA build's late-turn, overlap and persistent variants): all, or the
// one GQA_TEST_WGMMA_BUILD names (basic | pingpong | producer | overlap | swizzle | tma | tma_late |
// tma_overlap | tma_persistent), so a GPU
// check can run each in a process of its own (a trap in one poisons its process's context).
std::vector<cuda::PrefillWgmmaBuild> builds_under_test() {
  const char* env = std::getenv("GQA_TEST_WGMMA_BUILD");
  const std::string only = env != nullptr ? env : "";
  if (only.empty()) return {std::begin(cuda::kPrefillWgmmaBuilds), std::end(cuda::kPrefillWgmmaBuilds)};
  for (cuda::PrefillWgmmaBuild b : cuda::kPrefillWgmmaBuilds) {
    if (only == cuda::prefill_wgmma_build_name(b)) return {b};
  }
  ADD_FAILURE() << "GQA_TEST_WGMMA_BUILD=" << only
                << ": expected basic, pingpong, producer, overlap, swizzle, tma, tma_late, tma_overlap or "
                   "tma_persistent";
  return {};
}

// The batch through one build, on fresh device buffers (a failure if the dispatcher fell back).
std::vector<float> run_build(cuda::PrefillWgmmaBuild build, const Batch& b, bool out_aliases_q = false) {
  const cuda::ScopedPrefillWgmmaBuild selected(build);
  attn_test::DeviceBatch d(b);
  AttentionArgs a = d.args(b, out_aliases_q);
  const int64_t fallbacks = cuda::prefill_wgmma_fallbacks();
  cuda::attention_prefill_wgmma(a, nullptr);
  EXPECT_EQ(cuda::prefill_wgmma_fallbacks(), fallbacks)
      << "the dispatcher ran the ping-pong build in place of the " << cuda::prefill_wgmma_build_name(build)
      << " build (its register split does not hold)";
  return attn_test::download(a.out);
}

// The batch through the builds under test.
std::vector<BuildOutput> run_wgmma(const Batch& b, bool out_aliases_q = false) {
  std::vector<BuildOutput> outs;
  for (cuda::PrefillWgmmaBuild build : builds_under_test()) {
    outs.push_back({cuda::prefill_wgmma_build_name(build), run_build(build, b, out_aliases_q)});
  }
  return outs;
}

// Every build under test within kTol of ref (`what` names the case on failure).
void expect_close(const Batch& b, const std::vector<float>& ref, const std::string& what, bool out_aliases_q = false) {
  for (const BuildOutput& r : run_wgmma(b, out_aliases_q)) {
    EXPECT_LT(rel_error(r.out, ref), kTol) << what << " (" << r.build << ")";
  }
}

class CudaPrefillWgmma : public ::testing::TestWithParam<std::tuple<DType, Heads, int64_t, int64_t>> {};

// Fresh prompts whose lengths sit on and around the tile (128 keys) and block (128 rows) edges.
TEST_P(CudaPrefillWgmma, PromptLengths) {
  GQA_SKIP_WITHOUT_WGMMA();
  const auto [dt, heads, hd, bs] = GetParam();
  // (Longer prompts: LongerPromptAndDecodeShapedBatch; the CPU reference's cost grows with the square.)
  const std::vector<SeqSpec> lengths = {{0, 1},   {0, 63},  {0, 64},  {0, 65},  {0, 127},
                                        {0, 128}, {0, 129}, {0, 255}, {0, 256}, {0, 257}};
  Batch b = make_batch(dt, heads, hd, bs, lengths, 51);
  expect_close(b, reference(b), "prompt lengths");
}

// Chunks after cached context, starting inside and on the edges of tiles and cache blocks.
TEST_P(CudaPrefillWgmma, ChunkedPrefill) {
  GQA_SKIP_WITHOUT_WGMMA();
  const auto [dt, heads, hd, bs] = GetParam();
  Batch b = make_batch(dt, heads, hd, bs, {{1000, 300}, {128, 128}, {5, 7}, {2047, 1}, {127, 33}}, 52);
  expect_close(b, reference(b), "chunked prefill");
}

INSTANTIATE_TEST_SUITE_P(AllShapes, CudaPrefillWgmma, attn_test::prefill_shapes());

// Several sequences per block (one pass each) and groups that straddle blocks (7, 3) or exceed
// one (96 heads of one KV head), in order and shuffled.
TEST(CudaPrefillWgmmaCases, InterleavedSequencesAndIrregularGroups) {
  GQA_SKIP_WITHOUT_WGMMA();
  for (int64_t hd : {64, 128}) {
    for (Heads h : {Heads{8, 8}, Heads{8, 1}, Heads{28, 4}, Heads{12, 4}, Heads{96, 1}}) {
      for (bool shuffle : {false, true}) {
        Batch b = make_batch(DType::kBF16, h, hd, 16, {{0, 40}, {17, 60}, {3, 5}, {0, 1}, {100, 70}}, 53, shuffle);
        expect_close(b, reference(b),
                     "hd " + std::to_string(hd) + " " + std::to_string(h.hq) + "/" + std::to_string(h.hkv) +
                         (shuffle ? " shuffled" : ""));
      }
    }
  }
}

TEST(CudaPrefillWgmmaCases, LongerPromptAndDecodeShapedBatch) {
  GQA_SKIP_WITHOUT_WGMMA();
  Batch p = make_batch(DType::kBF16, {8, 1}, 128, 16, {{0, 1500}, {0, 3}}, 54);
  expect_close(p, reference(p), "1500-token prompt");
  Batch d = make_batch(DType::kF16, {64, 8}, 64, 16, {{0, 1}, {16, 1}, {999, 1}, {64, 1}, {4000, 1}}, 55);
  expect_close(d, reference(d), "one token per sequence");
}

// Block sizes that are not powers of two (the K/V copies find a key's page by the page divider's
// multiply-high) and pages shorter than a copy pass (5 keys) or longer than a tile (200).
TEST(CudaPrefillWgmmaCases, BlockSizesNotPowersOfTwo) {
  GQA_SKIP_WITHOUT_WGMMA();
  for (int64_t bs : {5, 24, 40, 200}) {
    Batch b = make_batch(DType::kBF16, {8, 1}, 128, bs, {{0, 300}, {128, 129}, {7, 1}}, 57);
    expect_close(b, reference(b), "block " + std::to_string(bs));
  }
}

// The TMA build's boxes (prefill_tma_boxes.h): 8-key pages (64 copies a tile at hd 128), 64, one
// 128-key page per box, and 256-key pages read from an offset within the page; tiles wholly below a pass's
// end by TMA, the one holding it by cp.async (every build runs them alike).
TEST(CudaPrefillWgmmaCases, BlockSizesOfTmaBoxes) {
  GQA_SKIP_WITHOUT_WGMMA();
  for (int64_t bs : {8, 64, 128, 256}) {
    for (int64_t hd : {64, 128}) {
      Batch b = make_batch(DType::kBF16, {8, 2}, hd, bs, {{0, 300}, {128, 129}, {7, 1}, {250, 262}}, 60);
      expect_close(b, reference(b), "block " + std::to_string(bs) + " hd " + std::to_string(hd));
    }
  }
}

// Keys past a sequence's context never reach the output, even as NaN: the cache rows after each
// sequence's last key (in its last page) and every page no sequence owns hold NaN. The kernels
// zero-fill the keys past a pass's end (cp.async), and the TMA build copies the tile holding the
// end that way too; a build that loaded those rows would multiply NaN by P = 0.
TEST(CudaPrefillWgmmaCases, NaNPastTheContextNeverReachesTheOutput) {
  GQA_SKIP_WITHOUT_WGMMA();
  for (int64_t hd : {64, 128}) {
    const std::vector<SeqSpec> seqs = {{0, 200}, {100, 157}, {0, 128}, {3, 2}};
    Batch b = make_batch(DType::kBF16, {8, 2}, hd, 16, seqs, 61);
    const std::vector<float> ref = reference(b);
    std::vector<bool> owned(size_t(b.num_blocks), false);
    const size_t row = size_t(b.hkv * b.hd);
    for (size_t s = 0; s < seqs.size(); ++s) {
      const int64_t context = seqs[s].prior + seqs[s].tokens;
      for (int64_t j = 0; j < b.max_blocks; ++j) {
        const int32_t page = b.tables[s * b.max_blocks + j];
        if (page < 0) continue;
        owned[size_t(page)] = true;
        for (int64_t k = std::max(context - j * b.block_size, int64_t(0)); k < b.block_size; ++k) {
          const size_t at = (size_t(page) * b.block_size + k) * row;
          std::fill(b.k_cache.begin() + at, b.k_cache.begin() + at + row, NAN);
          std::fill(b.v_cache.begin() + at, b.v_cache.begin() + at + row, NAN);
        }
      }
    }
    for (int64_t page = 0; page < b.num_blocks; ++page) {
      if (owned[size_t(page)]) continue;
      const size_t at = size_t(page) * b.block_size * row, n = b.block_size * row;
      std::fill(b.k_cache.begin() + at, b.k_cache.begin() + at + n, NAN);
      std::fill(b.v_cache.begin() + at, b.v_cache.begin() + at + n, NAN);
    }
    expect_close(b, ref, "hd " + std::to_string(hd));
  }
}

TEST(CudaPrefillWgmmaCases, OutMayAliasQ) {
  GQA_SKIP_WITHOUT_WGMMA();
  for (int64_t hd : {64, 128}) {
    Batch b = make_batch(DType::kBF16, {8, 2}, hd, 32, {{0, 100}, {30, 50}}, 56);
    expect_close(b, reference(b), "hd " + std::to_string(hd), true);
  }
}

// A block table entry outside the cache poisons exactly the tokens whose keys reach it; a token
// with an out-of-range sequence index is poisoned; every other token is unaffected. The bad entry
// in the tile holding the prompt's end (entry 9: keys 144..159 of 200; copied by cp.async in every
// build) and in a tile wholly below it (entry 2: keys 32..47; by TMA in the TMA build). With MHA
// (8/8: a block's 128 rows are 128 tokens) the first block's pass ends at key 128, so its tile 0
// comes by TMA with the bad page in it, and its tokens at positions 0..31 stay finite only if that
// page's box is zeros (P = 0 times V).
TEST(CudaPrefillWgmmaCases, BadDeviceDataGivesNaNForItsTokensOnly) {
  GQA_SKIP_WITHOUT_WGMMA();
  for (int entry : {9, 2}) {
    for (auto [hd, h] : {std::pair{int64_t(64), Heads{8, 2}}, std::pair{int64_t(128), Heads{8, 2}},
                         std::pair{int64_t(128), Heads{8, 8}}}) {
      Batch b = make_batch(DType::kBF16, h, hd, 16, {{0, 200}, {20, 30}}, 57);
      const std::vector<float> ref = reference(b);
      b.tables[0 * b.max_blocks + entry] = static_cast<int32_t>(b.num_blocks);  // sequence 0, keys 16 entry..
      b.token_seq[210] = static_cast<int32_t>(b.n_seqs());                       // a token of sequence 1
      for (const BuildOutput& r : run_wgmma(b)) {
        for (int64_t t = 0; t < b.n; ++t) {
          const std::vector<float> o = attn_test::token_rows(r.out, b, t);
          const bool poisoned = (b.token_seq[t] == 0 && b.positions[t] >= 16 * entry) || t == 210;
          const std::string what = std::string(r.build) + " entry " + std::to_string(entry) + " hd " +
                                   std::to_string(hd) + " " + std::to_string(h.hq) + "/" + std::to_string(h.hkv) +
                                   " token " + std::to_string(t);
          if (poisoned) {
            EXPECT_TRUE(std::all_of(o.begin(), o.end(), [](float x) { return std::isnan(x); })) << what;
          } else {
            EXPECT_LT(rel_error(o, attn_test::token_rows(ref, b, t)), kTol) << what;
          }
        }
      }
    }
  }
}

// The producer, swizzle, TMA and late-turn TMA builds (those of them under test) with their tiles in rotated order
// (GQA_PREFILL_WGMMA_ROTATE): the same attention, on chunks after cached context (a block's first
// tile may then be one its rows see none of), several sequences per block, MHA and GQA.
TEST(CudaPrefillWgmmaCases, RotatedTileOrder) {
  GQA_SKIP_WITHOUT_WGMMA();
  const cuda::ScopedSwitch rotate(cuda::prefill_wgmma_rotate, cuda::set_prefill_wgmma_rotate, true);
  for (cuda::PrefillWgmmaBuild build : builds_under_test()) {
    if (!cuda::prefill_wgmma_build_rotates(build)) continue;
    const cuda::ScopedPrefillWgmmaBuild selected(build);
    for (Heads h : {Heads{8, 1}, Heads{8, 8}}) {
      for (int64_t hd : {64, 128}) {
        Batch b = make_batch(DType::kBF16, h, hd, 16, {{1000, 300}, {128, 128}, {5, 7}, {0, 700}}, 59);
        attn_test::DeviceBatch d(b);
        AttentionArgs a = d.args(b, false);
        cuda::attention_prefill_wgmma(a, nullptr);
        EXPECT_LT(rel_error(attn_test::download(a.out), reference(b)), kTol)
            << cuda::prefill_wgmma_build_name(build) << " hd " << hd << " " << h.hq << "/" << h.hkv;
      }
    }
  }
}

// b's keys scaled along each sequence, the key at position t by 1 + t / 128 (rounded to b's dtype
// again). A row's scores (a spread of about 2.9 log2 units at the batch's scale 1 / sqrt(hd): q's
// stddev 2, k's 1) then grow
// with the keys it sees, its max by ~7.5 log2 units a 128-key tile on average, by less than the
// lazy rescale's slack of 8 on some tiles and by more on others.
void grow_keys(Batch& b) {
  for (int64_t s = 0; s < b.n_seqs(); ++s) {
    for (int64_t t = 0; t < b.max_context; ++t) {
      const int32_t page = b.tables[s * b.max_blocks + t / b.block_size];
      if (page < 0) break;  // (past the sequence's pages)
      const size_t row = (static_cast<size_t>(page) * b.block_size + t % b.block_size) * b.hkv * b.hd;
      for (size_t e = 0; e < static_cast<size_t>(b.hkv * b.hd); ++e) {
        b.k_cache[row + e] *= 1.0f + static_cast<float>(t) / 128.0f;
      }
    }
  }
  b.k_cache = test::round_to(b.k_cache, b.dt);
}

// The lazy rescale (GQA_PREFILL_WGMMA_LAZY_RESCALE: softmax_scores' slack of 8 log2 units) in every
// build under test, within kTol of the CPU twin: prompts and chunks after context (past each row's
// first tile hardly any max rises by 8, so O is almost never rescaled again), and the same batch with
// keys growing along each sequence (grow_keys: maxima rise by less than the slack on some tiles and
// by more on others, so rows keep a base for some tiles and move it on others), bf16 and f16 (whose
// P then reaches up to 2^8); there each build's output must differ from its eager rescale's in
// some bit (else the switch never reached its kernel).
TEST(CudaPrefillWgmmaCases, LazyRescale) {
  GQA_SKIP_WITHOUT_WGMMA();
  const cuda::ScopedSwitch lazy(cuda::prefill_wgmma_lazy_rescale, cuda::set_prefill_wgmma_lazy_rescale, true);
  for (DType dt : {DType::kBF16, DType::kF16}) {
    for (const auto& [h, hd] : {std::pair<Heads, int64_t>{{8, 1}, 128}, {{8, 8}, 64}}) {
      const std::string what = std::string(dt == DType::kBF16 ? "bf16" : "f16") + " hd " + std::to_string(hd) + " " +
                               std::to_string(h.hq) + "/" + std::to_string(h.hkv);
      Batch b = make_batch(dt, h, hd, 16, {{0, 300}, {1000, 200}, {7, 1}}, 64);
      expect_close(b, reference(b), "lazy rescale, " + what);
      grow_keys(b);
      const std::vector<float> ref = reference(b);
      const std::vector<BuildOutput> lazy_out = run_wgmma(b);
      std::vector<BuildOutput> eager_out;
      {
        const cuda::ScopedSwitch eager(cuda::prefill_wgmma_lazy_rescale, cuda::set_prefill_wgmma_lazy_rescale, false);
        eager_out = run_wgmma(b);
      }
      ASSERT_EQ(lazy_out.size(), eager_out.size());
      for (size_t i = 0; i < lazy_out.size(); ++i) {
        EXPECT_LT(rel_error(lazy_out[i].out, ref), kTol) << "lazy rescale, growing keys, " << what << " ("
                                                          << lazy_out[i].build << ")";
        // (the same attention up to rounding, but not bit for bit: where a row keeps its base its p
        // and l carry another factor, rounded otherwise; equal outputs would mean the slack never
        // reached this build's kernel)
        EXPECT_NE(lazy_out[i].out, eager_out[i].out) << "lazy rescale, growing keys, " << what << " ("
                                                      << lazy_out[i].build << "): bit for bit the eager rescale's";
      }
    }
  }
}

// cuda::attention takes the wgmma path only when switched on (the default), and gives the same answer
// either way.
TEST(CudaPrefillWgmmaCases, DispatcherSwitch) {
  GQA_SKIP_WITHOUT_WGMMA();
  Batch b = make_batch(DType::kBF16, {8, 1}, 128, 16, {{0, 300}, {200, 64}}, 58);
  const std::vector<float> ref = reference(b);
  for (bool on : {false, true}) {
    const cuda::ScopedSwitch wgmma(cuda::prefill_wgmma_enabled, cuda::set_prefill_wgmma, on);
    attn_test::DeviceBatch d(b);
    AttentionArgs a = d.args(b, false);
    a.one_token_per_seq = false;
    cuda::attention(a, nullptr);
    EXPECT_LT(rel_error(attn_test::download(a.out), ref), kTol) << "wgmma " << on;
  }
}

// Whether build b is among builds_under_test().
bool under_test(cuda::PrefillWgmmaBuild b) {
  const std::vector<cuda::PrefillWgmmaBuild> under = builds_under_test();
  return std::find(under.begin(), under.end(), b) != under.end();
}

// Every element of b equal to a's (NaN to NaN), else a failure naming the first that is not.
void expect_bitwise_equal(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  size_t differ = 0, first = a.size();
  for (size_t i = 0; i < a.size(); ++i) {
    const bool same = (std::isnan(a[i]) && std::isnan(b[i])) || a[i] == b[i];
    if (!same && differ++ == 0) first = i;
  }
  EXPECT_EQ(differ, 0u) << what << ": first at element " << first << " of " << a.size();
}

// The TMA build against the swizzle build, bit for bit: the same swizzled tiles and the same
// consumer code, only the copies differ, so any difference is a wrong or stale load (a box in the
// wrong place, a stage read before its bytes landed, a parity slip), however small, where the
// cases above allow 1e-2. Runs where the TMA build is under test; gpu-check runs it in a process
// of its own (a trap in the swizzle build would poison the process's context for the TMA cases).
TEST(CudaPrefillWgmmaTma, EqualsTheSwizzleBuildBitForBit) {
  GQA_SKIP_WITHOUT_WGMMA();
  if (!under_test(cuda::PrefillWgmmaBuild::kTma)) GTEST_SKIP() << "the TMA build is not under test (GQA_TEST_WGMMA_BUILD)";
  for (DType dt : {DType::kBF16, DType::kF16}) {
    for (int64_t bs : {8, 16, 64, 128, 256}) {
      ASSERT_GT(cuda::tma_box_rows(bs), 0) << "block size " << bs << " has no TMA boxes: the comparison would be moot";
      for (int64_t hd : {64, 128}) {
        for (Heads h : {Heads{8, 1}, Heads{8, 8}}) {
          // (long passes: many stage reuses and both parities; a context from inside a page; a one-token tail)
          Batch b = make_batch(dt, h, hd, bs, {{0, 700}, {300, 129}, {7, 1}}, 62);
          expect_bitwise_equal(run_build(cuda::PrefillWgmmaBuild::kSwizzle, b),
                               run_build(cuda::PrefillWgmmaBuild::kTma, b),
                               std::string(dt == DType::kBF16 ? "bf16" : "f16") + " block " + std::to_string(bs) +
                                   " hd " + std::to_string(hd) + " " + std::to_string(h.hq) + "/" +
                                   std::to_string(h.hkv));
        }
      }
    }
  }
}

// The TMA build with late turns (GQA_PREFILL_WGMMA_LATE_TURNS) against the TMA build bit for bit:
// passing a turn later changes when a warpgroup may issue, not what any thread computes or in
// which order, so any difference is a schedule bug (a tile read before it landed, a stage reused
// early). Runs where the late-turn build is under test (it runs the TMA build too).
TEST(CudaPrefillWgmmaTma, LateTurnsEqualTheTmaBuildBitForBit) {
  GQA_SKIP_WITHOUT_WGMMA();
  if (!under_test(cuda::PrefillWgmmaBuild::kTmaLate)) {
    GTEST_SKIP() << "the late-turn build is not under test (GQA_TEST_WGMMA_BUILD)";
  }
  for (bool rotated : {false, true}) {  // (each order its own pair of kernels)
    const cuda::ScopedSwitch order(cuda::prefill_wgmma_rotate, cuda::set_prefill_wgmma_rotate, rotated);
    for (DType dt : {DType::kBF16, DType::kF16}) {
      for (int64_t hd : {64, 128}) {
        for (Heads h : {Heads{8, 1}, Heads{8, 8}}) {
          // (chunks after context, several sequences a block, a one-token tail: skipped tiles too)
          Batch b = make_batch(dt, h, hd, 16, {{0, 700}, {300, 129}, {7, 1}, {1000, 300}}, 63);
          expect_bitwise_equal(run_build(cuda::PrefillWgmmaBuild::kTma, b),
                               run_build(cuda::PrefillWgmmaBuild::kTmaLate, b),
                               std::string(dt == DType::kBF16 ? "bf16" : "f16") + " hd " + std::to_string(hd) + " " +
                                   std::to_string(h.hq) + "/" + std::to_string(h.hkv) +
                                   (rotated ? ", rotated" : ""));
        }
      }
    }
  }
}

// The persistent build (GQA_PREFILL_WGMMA_PERSISTENT) against the TMA overlap build bit for bit:
// the same tiles and the same consumer arithmetic in another schedule (a block looping over row
// blocks, two stages, two q buffers, each side picking its own passes), so any difference is a
// schedule bug: a q buffer or stage reused early, a pass picked differently by the producers and
// the consumers, a bad-key record read from the wrong slot. The grid is capped at 1, 3 and 7
// blocks as well as one an SM, so these small batches also loop over many row blocks a block
// (both directions of the zig-zag, items with several passes, an item with none). Runs where the
// persistent build is under test (it runs the TMA overlap build too).
TEST(CudaPrefillWgmmaTma, PersistentEqualsTheTmaOverlapBuildBitForBit) {
  GQA_SKIP_WITHOUT_WGMMA();
  if (!under_test(cuda::PrefillWgmmaBuild::kTmaPersistent)) {
    GTEST_SKIP() << "the persistent build is not under test (GQA_TEST_WGMMA_BUILD)";
  }
  struct UncapAtTheEnd {
    ~UncapAtTheEnd() { cuda::set_prefill_wgmma_persistent_grid_cap(0); }
  } uncap;
  for (int cap : {0, 1, 3, 7}) {
    cuda::set_prefill_wgmma_persistent_grid_cap(cap);
    for (DType dt : {DType::kBF16, DType::kF16}) {
      for (int64_t hd : {64, 128}) {
        for (Heads h : {Heads{8, 1}, Heads{8, 8}, Heads{96, 1}}) {
          for (bool shuffle : {false, true}) {  // (shuffled: several sequences, so several passes, a block)
            // (chunks after context, a one-token tail, a sequence from inside a page)
            Batch b = make_batch(dt, h, hd, 16, {{0, 700}, {300, 129}, {7, 1}, {1000, 300}}, 64, shuffle);
            const std::string what = std::string(dt == DType::kBF16 ? "bf16" : "f16") + " hd " + std::to_string(hd) +
                                     " " + std::to_string(h.hq) + "/" + std::to_string(h.hkv) +
                                     (shuffle ? " shuffled" : "") + ", grid cap " + std::to_string(cap);
            expect_bitwise_equal(run_build(cuda::PrefillWgmmaBuild::kTmaOverlap, b),
                                 run_build(cuda::PrefillWgmmaBuild::kTmaPersistent, b), what);
          }
        }
      }
    }
    // a bad block-table entry (9: in a pass's last tile, copied by cp.async; 2: in a tile loaded by
    // TMA) and tokens of an unknown sequence: one (210), and 40 (30..69: tokens 32..63, one row block at
    // group 4, have no valid row, so no pass), the bad keys' slots and an item without passes in a loop
    for (int entry : {9, 2}) {
      for (bool empty_item : {false, true}) {
        Batch b = make_batch(DType::kBF16, {8, 2}, 128, 16, {{0, 200}, {20, 30}}, 57);
        b.tables[entry] = static_cast<int32_t>(b.num_blocks);  // sequence 0, keys 16 entry..
        b.token_seq[210] = static_cast<int32_t>(b.n_seqs());
        for (int t = 30; empty_item && t < 70; ++t) b.token_seq[t] = static_cast<int32_t>(b.n_seqs());
        expect_bitwise_equal(run_build(cuda::PrefillWgmmaBuild::kTmaOverlap, b),
                             run_build(cuda::PrefillWgmmaBuild::kTmaPersistent, b),
                             "bad device data, entry " + std::to_string(entry) + (empty_item ? ", an empty item" : "") +
                                 ", grid cap " + std::to_string(cap));
      }
    }
  }
}

// ---- host side (no GPU needed: nothing is launched) ----

TEST(CudaPrefillWgmmaArgs, SupportsBf16F16AtHeadDims64And128Only) {
  auto args = [](DType dt, int64_t hd) { return attn_test::fake_args(dt, 8, 2, hd); };

  for (DType dt : {DType::kBF16, DType::kF16}) {
    for (int64_t hd : {64, 128}) EXPECT_TRUE(cuda::prefill_wgmma_supported(args(dt, hd))) << hd;
    for (int64_t hd : {16, 32}) {
      EXPECT_FALSE(cuda::prefill_wgmma_supported(args(dt, hd))) << hd;
      EXPECT_THROW(cuda::attention_prefill_wgmma(args(dt, hd), nullptr), Error) << hd;
    }
  }
  EXPECT_FALSE(cuda::prefill_wgmma_supported(args(DType::kF32, 128)));
  EXPECT_THROW(cuda::attention_prefill_wgmma(args(DType::kF32, 128), nullptr), Error);
}

TEST(CudaPrefillWgmmaArgs, SwitchesSetAndRead) {
  const bool was = cuda::prefill_wgmma_enabled(), was_pp = cuda::prefill_wgmma_pingpong(),
             was_pr = cuda::prefill_wgmma_producer(), was_ov = cuda::prefill_wgmma_overlap(),
             was_sw = cuda::prefill_wgmma_swizzle(), was_tma = cuda::prefill_wgmma_tma();
  for (bool on : {true, false}) {
    const cuda::ScopedSwitch wgmma(cuda::prefill_wgmma_enabled, cuda::set_prefill_wgmma, on);
    const cuda::ScopedSwitch pp(cuda::prefill_wgmma_pingpong, cuda::set_prefill_wgmma_pingpong, !on);
    const cuda::ScopedSwitch pr(cuda::prefill_wgmma_producer, cuda::set_prefill_wgmma_producer, on);
    const cuda::ScopedSwitch ov(cuda::prefill_wgmma_overlap, cuda::set_prefill_wgmma_overlap, !on);
    const cuda::ScopedSwitch sw(cuda::prefill_wgmma_swizzle, cuda::set_prefill_wgmma_swizzle, on);
    const cuda::ScopedSwitch no_tma(cuda::prefill_wgmma_tma, cuda::set_prefill_wgmma_tma, false);  // (on by default)
    // (the TMA build's variants off whatever the environment says: they would stand in for it)
    const cuda::ScopedSwitch no_late(cuda::prefill_wgmma_late_turns, cuda::set_prefill_wgmma_late_turns, false);
    const cuda::ScopedSwitch no_tma_overlap(cuda::prefill_wgmma_tma_overlap, cuda::set_prefill_wgmma_tma_overlap, false);
    {
      const cuda::ScopedSwitch tma(cuda::prefill_wgmma_tma, cuda::set_prefill_wgmma_tma, true);
      EXPECT_TRUE(cuda::prefill_wgmma_tma());
      // over every other switch but the overlap build's (the producer build's opt-in overlap)
      EXPECT_EQ(cuda::prefill_wgmma_build(), on ? cuda::PrefillWgmmaBuild::kTma : cuda::PrefillWgmmaBuild::kOverlap);
      const cuda::ScopedSwitch no_overlap(cuda::prefill_wgmma_overlap, cuda::set_prefill_wgmma_overlap, false);
      EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kTma);
    }
    EXPECT_FALSE(cuda::prefill_wgmma_tma());
    EXPECT_EQ(cuda::prefill_wgmma_enabled(), on);
    EXPECT_EQ(cuda::prefill_wgmma_overlap(), !on);
    EXPECT_EQ(cuda::prefill_wgmma_swizzle(), on);
    EXPECT_EQ(cuda::prefill_wgmma_build(), on ? cuda::PrefillWgmmaBuild::kSwizzle : cuda::PrefillWgmmaBuild::kOverlap);
    EXPECT_EQ(cuda::prefill_wgmma_pingpong(), !on);
    EXPECT_EQ(cuda::prefill_wgmma_producer(), on);
  }
  EXPECT_EQ(cuda::prefill_wgmma_enabled(), was);  // ScopedSwitch put them back
  EXPECT_EQ(cuda::prefill_wgmma_pingpong(), was_pp);
  EXPECT_EQ(cuda::prefill_wgmma_producer(), was_pr);
  EXPECT_EQ(cuda::prefill_wgmma_overlap(), was_ov);
  EXPECT_EQ(cuda::prefill_wgmma_swizzle(), was_sw);
  EXPECT_EQ(cuda::prefill_wgmma_tma(), was_tma);
  for (cuda::PrefillWgmmaBuild b : cuda::kPrefillWgmmaBuilds) {
    const cuda::ScopedPrefillWgmmaBuild selected(b);
    EXPECT_EQ(cuda::prefill_wgmma_build(), b) << cuda::prefill_wgmma_build_name(b);
  }
}

}  // namespace
}  // namespace gqa
