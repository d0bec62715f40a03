// Causal flash prefill on Hopper warpgroup MMA (wgmma, sm_90a): the same function as
// attention_prefill_mma (and the CPU twin) for any valid input, on bf16/f16 with head_dim 64 or
// 128, over the paged KV cache. Two warpgroups of 64 packed (token, head-in-group) rows share each
// 128-key K/V tile; S = Q K^T with both operands in shared memory, O += P V with P from registers.
// Design and status: docs/attention-kernels.md.
//
// The default prefill attention where it runs: cuda::attention takes this path for a prefill when
// prefill_wgmma_enabled() (on unless GQA_PREFILL_WGMMA=0 or set_prefill_wgmma(false)) and
// prefill_wgmma_available() (a compute capability 9.0 device: H100, H200), else the mma.sync
// kernel (attention_prefill_mma.h). Default build: the TMA build's overlap variant below
// ("tma_overlap": the TMA build's tiles, each consumer warpgroup's softmax under its own P V of the
// tile before), since run 11 on an H200 (bench/results/NVIDIA-H200-20261127-040524-prefill-32k-128k.md
// and -040511-prefill-chunk8192.md, GEMM 798 TFLOP/s): one layer's attention over a 128K prompt
// 63.8 ms (69% of the GEMM rate) vs 68.4 for the TMA build (64%, the default of runs 9-11), 69.5
// with late turns, 70.8 for the swizzle build (62%), 114.7 for the producer build (38%) and 131.9
// for mma.sync (33%); 32K 3.8 ms (73%; TMA 4.1, 67%); 8K in one chunk 0.3 ms (66%; TMA 57%). Every
// build passed its tests there (the TMA builds' and the swizzle build's cases also under memcheck),
// and gqa-generate's tokens with each TMA variant equalled the fixture's. The file is always
// compiled for sm_90a alone (kernels/cuda/CMakeLists.txt).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/attention_prefill_wgmma_mask.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/ops.h"

namespace gqa::cuda {

bool prefill_wgmma_enabled();
void set_prefill_wgmma(bool on);

// Which build attention_prefill_wgmma runs: the ping-pong kernel (the two warpgroups take turns at
// the tensor cores, one's softmax under the other's GEMMs; stages handed over by mbarriers) when
// on (GQA_PREFILL_WGMMA_PINGPONG=1 or set_prefill_wgmma_pingpong(true)), else the basic one.
bool prefill_wgmma_pingpong();
void set_prefill_wgmma_pingpong(bool on);

// The third build, taking precedence over the other two when on (on by default, under the TMA and
// swizzle builds; GQA_PREFILL_WGMMA_PRODUCER=0 or set_prefill_wgmma_producer(false) with those two
// off leaves the basic or ping-pong build): the ping-pong kernel
// with one more warpgroup that issues every K/V copy, waits for them, fences them for wgmma and
// hands the tiles over, so the two consumer warpgroups run only the math.
bool prefill_wgmma_producer();
void set_prefill_wgmma_producer(bool on);

// The fourth, taking precedence over all others when on (GQA_PREFILL_WGMMA_OVERLAP=1 or
// set_prefill_wgmma_overlap(true), opt-in, as is the TMA build's late-turn variant below): the producer build whose consumer warpgroups also overlap the
// softmax of each tile with the P V of the one before (attention_prefill_wgmma_kernels.cuh). Opt-in: passed its
// tests on an H200, measured 3% slower than the producer build (run 6: 7.8 ms vs 7.6 at 32K).
bool prefill_wgmma_overlap();
void set_prefill_wgmma_overlap(bool on);

// The fifth, taking precedence over the producer, ping-pong and basic builds when on
// (prefill_wgmma_swizzle(); GQA_PREFILL_WGMMA_SWIZZLE / set_prefill_wgmma_swizzle): the producer build with its q, K and V tiles in wgmma's
// 128-byte-swizzled layout (copied as swizzle128_byte places them, read through swizzled
// descriptors) instead of the no-swizzle core-matrix layout; all its shared memory dynamic, the
// tiles 1024-byte aligned. On by default (GQA_PREFILL_WGMMA_SWIZZLE=0 or
// set_prefill_wgmma_swizzle(false) to leave it), under the TMA build: what GQA_PREFILL_WGMMA_TMA=0
// runs. Run 8-9: 61-62% of the GEMM rate at 32K and 128K, 47-51% at 8K.
bool prefill_wgmma_swizzle();
void set_prefill_wgmma_swizzle(bool on);

// The sixth, taking precedence over all but the overlap build when on (prefill_wgmma_tma();
// GQA_PREFILL_WGMMA_TMA / set_prefill_wgmma_tma): the swizzle build whose producer warpgroup loads the K/V tiles by
// TMA (one warp issues a tile's boxes of a page's keys each; tensor_map.h, prefill_tma_boxes.h)
// instead of 128 threads' cp.async copies; the tile holding a pass's end, and every tile at block
// sizes that are not whole boxes (tma_box_rows 0: other than 8, 16, 32, 64 or a multiple of 128),
// by the swizzle build's copies. On by default, in its overlap variant (below; the top of this
// file); GQA_PREFILL_WGMMA_TMA=0 or set_prefill_wgmma_tma(false) leaves the swizzle build.
bool prefill_wgmma_tma();
void set_prefill_wgmma_tma(bool on);

// The K/V tile order of the producer, swizzle and TMA builds (and the TMA build's late-turn
// variant; not its overlap variant, the default build, whose tiles stay in order: with it the
// switch changes nothing until GQA_PREFILL_WGMMA_TMA_OVERLAP=0): each block takes its tiles in order
// (the default), or, when on (GQA_PREFILL_WGMMA_ROTATE=1 or set_prefill_wgmma_rotate(true)),
// from tile blockIdx mod n on, so the resident blocks, which otherwise all stream the rank's one
// KV head's tiles in step, read different tiles at a time (the online softmax is order-free).
// Opt-in: its tests passed on an H200 (run 8); run 9 timed the TMA build ~1% slower with it at
// 128K (69.4-70.0 ms against 68.6-69.2 in order, 16- to 256-token pages; gqa-bench's page table),
// the producer build 1-8% faster (the ablation table's "rotated tiles").
bool prefill_wgmma_rotate();
void set_prefill_wgmma_rotate(bool on);

// Two variants of the TMA build (seventeenth session, after run 10's ablation of the TMA build had
// its softmax and GEMMs adding up at 8K and 32K: one warpgroup's softmax did not run under the
// other's GEMMs; kernels/cuda/attention_prefill_wgmma_ablation.h), both passing their tests in
// run 11 on an H200:
// - TMA overlap (on by default since run 11; GQA_PREFILL_WGMMA_TMA_OVERLAP=0 or
//   set_prefill_wgmma_tma_overlap(false) leaves the TMA build itself): the overlap build's
//   consumers (each warpgroup's softmax of a tile under its own P V of the tile before) on the TMA
//   build's tiles; tiles in order whatever GQA_PREFILL_WGMMA_ROTATE says (as the overlap build's).
//   Run 11: 13% / 8% / 7% less time than the TMA build at 8K / 32K / 128K (top of this file);
// - late turns (opt-in: GQA_PREFILL_WGMMA_LATE_TURNS=1 / set_prefill_wgmma_late_turns): each
//   consumer warpgroup passes its tensor-core turn once its GEMM has completed rather than once
//   issued, so the two warpgroups' GEMMs do not share the tensor cores; GQA_PREFILL_WGMMA_ROTATE
//   applies. Taking precedence over TMA overlap when on. Run 11: 0-15% slower than the TMA build.
// Both only while the TMA build is the one selected (below).
bool prefill_wgmma_late_turns();
void set_prefill_wgmma_late_turns(bool on);
bool prefill_wgmma_tma_overlap();
void set_prefill_wgmma_tma_overlap(bool on);

// The persistent build (opt-in: GQA_PREFILL_WGMMA_PERSISTENT=1 or set_prefill_wgmma_persistent(true);
// thirty-fourth session, unrun on a GPU): the TMA overlap build's blocks as one block an SM looping
// over the row blocks, its producers loading the next row block's q and first K/V tiles while its
// consumers finish the current one (FlashAttention-3's persistent schedule;
// attention_prefill_wgmma_persistent.cuh). Aimed at 8K, whose short row blocks (~32 tiles) each
// paid ~15-19 us of start and end in a fit of run 10's rows. Two K/V stages (not three) and two q
// buffers. Its output is meant to equal the TMA overlap build's bit for bit (its test checks that).
// Taking precedence over TMA
// overlap, under late turns, while the TMA build is the one selected.
bool prefill_wgmma_persistent();
void set_prefill_wgmma_persistent(bool on);
// A test's hook: at most `blocks` blocks in the persistent build's grid (0, the default: one an SM),
// so small inputs also loop over several row blocks a block. Throws gqa::Error for blocks < 0.
void set_prefill_wgmma_persistent_grid_cap(int blocks);
int prefill_wgmma_persistent_grid_cap();

// The online softmax's lazy rescale (FlashAttention-4's), in every build when on
// (GQA_PREFILL_WGMMA_LAZY_RESCALE=1 or set_prefill_wgmma_lazy_rescale(true); opt-in until measured,
// twenty-first session, unrun on a GPU): a row's O is rescaled only when a tile's max exceeds the
// base its probabilities are taken against by more than kLazyRescaleSlack (log2 units: p <= 2^8),
// not whenever the max moves (softmax_scores, attention_mma.cuh). The same attention up to
// rounding. Why it may pay: in the default build the two warpgroups' 64 rows each vote per tile
// on whether any alpha differs from 1, and with 64 rows some row's max moves on most tiles of an
// 8K prompt (the k-th of independent scores is a new maximum with probability 1/k: at the 32nd
// tile, 64 rows x 128 keys / 4096 keys seen = 2 expected a tile), so the warpgroup multiplies its
// whole O (HD / 2 floats a thread) after most tiles' P V, on the critical path; with the slack it
// does so only when a max jumps by more than 8 (after the first tile, rarely: a sink or a huge
// logit). The mma.sync prefill and the decode kernels do not read it.
constexpr float kLazyRescaleSlack = 8.0f;
bool prefill_wgmma_lazy_rescale();
void set_prefill_wgmma_lazy_rescale(bool on);

// The nine builds, and the one the switches above select (overlap over TMA (its late-turn variant
// over its persistent one over its TMA overlap one over itself) over swizzle over producer over
// ping-pong over basic; by default the TMA build's overlap variant): what attention_prefill_wgmma
// runs. Names: "basic", "pingpong", "producer", "overlap", "swizzle", "tma", "tma_late",
// "tma_overlap", "tma_persistent" (GQA_TEST_WGMMA_BUILD's and GQA_BENCH_SKIP_WGMMA's values).
enum class PrefillWgmmaBuild {
  kBasic,
  kPingPong,
  kProducer,
  kOverlap,
  kSwizzle,
  kTma,
  kTmaLate,
  kTmaOverlap,
  kTmaPersistent
};
constexpr PrefillWgmmaBuild kPrefillWgmmaBuilds[] = {
    PrefillWgmmaBuild::kBasic,      PrefillWgmmaBuild::kPingPong, PrefillWgmmaBuild::kProducer,
    PrefillWgmmaBuild::kOverlap,    PrefillWgmmaBuild::kSwizzle,  PrefillWgmmaBuild::kTma,
    PrefillWgmmaBuild::kTmaLate,    PrefillWgmmaBuild::kTmaOverlap, PrefillWgmmaBuild::kTmaPersistent};
PrefillWgmmaBuild prefill_wgmma_build();
const char* prefill_wgmma_build_name(PrefillWgmmaBuild b);

// The mask bit (attention_prefill_wgmma_mask.h) that makes build b of the TMA build's kernel: its
// late-turn and overlap variants; 0 for the other builds (the TMA build itself, and builds of
// other kernels). The dispatcher launches by it, and gqa-bench's TMA ablation table leaves out the
// rows of a variant whose build's test failed.
constexpr unsigned prefill_wgmma_build_variant(PrefillWgmmaBuild b) {
  return b == PrefillWgmmaBuild::kTmaLate ? kLateTurns : b == PrefillWgmmaBuild::kTmaOverlap ? kOverlapPv : 0u;
}

// Whether build b takes its tiles in GQA_PREFILL_WGMMA_ROTATE's order when that is on: the
// producer, swizzle and TMA builds and the TMA build's late-turn variant (the dispatcher's
// in_tile_order); the basic, ping-pong, overlap and TMA-overlap builds keep theirs in order.
constexpr bool prefill_wgmma_build_rotates(PrefillWgmmaBuild b) {
  return b == PrefillWgmmaBuild::kProducer || b == PrefillWgmmaBuild::kSwizzle || b == PrefillWgmmaBuild::kTma ||
         b == PrefillWgmmaBuild::kTmaLate;
}

// Sets the build switches to select `b` for a scope; the previous settings are back however it ends.
class ScopedPrefillWgmmaBuild {
 public:
  explicit ScopedPrefillWgmmaBuild(PrefillWgmmaBuild b)
      : pingpong_(prefill_wgmma_pingpong, set_prefill_wgmma_pingpong, b == PrefillWgmmaBuild::kPingPong),
        producer_(prefill_wgmma_producer, set_prefill_wgmma_producer, b == PrefillWgmmaBuild::kProducer),
        overlap_(prefill_wgmma_overlap, set_prefill_wgmma_overlap, b == PrefillWgmmaBuild::kOverlap),
        swizzle_(prefill_wgmma_swizzle, set_prefill_wgmma_swizzle, b == PrefillWgmmaBuild::kSwizzle),
        tma_(prefill_wgmma_tma, set_prefill_wgmma_tma,
             b == PrefillWgmmaBuild::kTma || b == PrefillWgmmaBuild::kTmaLate || b == PrefillWgmmaBuild::kTmaOverlap ||
                 b == PrefillWgmmaBuild::kTmaPersistent),
        late_(prefill_wgmma_late_turns, set_prefill_wgmma_late_turns, b == PrefillWgmmaBuild::kTmaLate),
        tma_overlap_(prefill_wgmma_tma_overlap, set_prefill_wgmma_tma_overlap, b == PrefillWgmmaBuild::kTmaOverlap),
        persistent_(prefill_wgmma_persistent, set_prefill_wgmma_persistent, b == PrefillWgmmaBuild::kTmaPersistent) {}

 private:
  ScopedSwitch pingpong_, producer_, overlap_, swizzle_, tma_, late_, tma_overlap_, persistent_;
};

// Whether the current device runs this build's sm_90a code (the only code with wgmma in it): a
// compute capability 9.0 device, confirmed once per device by a one-thread probe kernel. False
// elsewhere. Needs a device (call only where device_count() > 0).
bool prefill_wgmma_available();

// How many calls the dispatcher ran on the ping-pong build in place of the producer, overlap,
// swizzle or TMA build asked for (ptxas gave that kernel fewer registers than its setmaxnreg split needs:
// said once on stderr). Tests and gqa-bench check that it stayed 0, so a build that falls back is
// not reported as itself.
int64_t prefill_wgmma_fallbacks();

// True when attention_prefill_wgmma has a kernel for a's dtype and head_dim (bf16/f16, 64/128).
// Looks only at q's dtype and shape; attention_prefill_wgmma still validates every tensor.
bool prefill_wgmma_supported(const AttentionArgs& a);

// Throws gqa::Error ("cuda attention (prefill, wgmma): ...") for invalid arguments, an
// unsupported dtype/head_dim, or a device without prefill_wgmma_available().
void attention_prefill_wgmma(const AttentionArgs& a, cudaStream_t stream);

}  // namespace gqa::cuda
