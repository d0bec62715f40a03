// Timing helpers shared by the CUDA benchmarks (gqa-bench, gqa-attn-bench).
//
// Method (.library/device/METHOD.md): CUDA events around the timed region on the stream that
// runs it; warm-up runs first (module load, cuBLASLt plan choice, allocator growth stay out of
// the numbers); the median of many runs; a spin kernel queued before each run so the host can
// enqueue the timed launches while the GPU is busy (host launch cost stays out of the number);
// random data, never zeros; and either rotated inputs or an L2 flush between runs so the L2
// cannot hold what the timed work reads.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "kernels/cuda/cuda_check.h"

namespace gqa::bench {

struct TimingOptions {
  int warmup = 5;
  int runs = 30;
  int64_t spin_cycles = 200000;  // ~100 us at H100 clocks: time for the host to queue the run
};

// Every element of t (f32, f16 or bf16, on the device) = offset + scale * u, u uniform in
// [-1, 1) from a hash of (index, seed): deterministic, no host round trip.
void fill_uniform(Tensor t, uint32_t seed, float scale = 1.0f, float offset = 0.0f, cudaStream_t stream = nullptr);

// Keeps the GPU busy for `cycles` SM clocks.
void spin(cudaStream_t stream, int64_t cycles);

double median(std::vector<double> v);

// The SM clock in MHz as one thread on one SM sees it right now: 2M clock64 cycles (~1 ms) over the
// global timer's nanoseconds (its resolution is 1 us or finer: < 0.1%). Synchronises the stream.
// Where a row's rate may have moved with the clock (a power or thermal limit after a long
// section), the report says at what clock it ran.
double sm_clock_mhz(cudaStream_t stream);

// Evicts the L2 between timed runs by zeroing a buffer of 4x its size (triton's do_bench does
// the same with 256 MB), so a run reads its inputs from HBM as it would inside a decode step,
// where the ~2 GB of weights stream through the L2 between two uses of any tensor; then reads
// another buffer of 4x its size, so that the zeroes' dirty lines are written back before the
// timed run rather than during it (up to an L2 of write-backs, ~14 us of DRAM time at copy rate
// on an H200, inside a 12 us op otherwise: twenty-ninth session, unmeasured until the next run).
class L2Flush {
 public:
  L2Flush();
  void operator()(cudaStream_t stream) const;
  size_t l2_bytes() const { return l2_bytes_; }

 private:
  size_t l2_bytes_ = 0;
  Tensor buffer_;  // zeroed: evicts what the previous run left
  Tensor clean_;   // read: evicts the zeroes' dirty lines, leaving clean ones
  Tensor sink_;    // the read's one word per block
};

// Two CUDA events, destroyed with the object.
class EventPair {
 public:
  EventPair();
  ~EventPair();
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;
  void start(cudaStream_t stream);
  void stop(cudaStream_t stream);
  double elapsed_ms();  // waits for the stop event

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

// Median device time in ms of work(i) over opt.runs runs after opt.warmup warm-up runs; i counts
// every run (warm-up included), so work can rotate its inputs by i. Each run: spin, optional
// L2 flush, start event, work(i), stop event.
template <typename Work>
double time_median_ms(cudaStream_t stream, const TimingOptions& opt, Work&& work, const L2Flush* flush = nullptr) {
  EventPair ev;
  std::vector<double> ms;
  for (int i = 0; i < opt.warmup + opt.runs; ++i) {
    spin(stream, opt.spin_cycles);
    if (flush) (*flush)(stream);
    ev.start(stream);
    work(i);
    ev.stop(stream);
    const double t = ev.elapsed_ms();
    if (i >= opt.warmup) ms.push_back(t);
  }
  return median(std::move(ms));
}

// Device-to-device copy bandwidth in bytes/s, counting bytes read plus bytes written:
// cudaMemcpyAsync of a 1 GiB buffer of random bf16 on `stream`, median of opt.runs.
double copy_bandwidth(cudaStream_t stream, const TimingOptions& opt);

// Read-only stream bandwidth in bytes/s: a kernel reading a 1 GiB buffer with 16-byte streaming
// loads (8 in flight per thread, as many 256-thread blocks per SM as fit: 5 at its 48 registers),
// median of opt.runs. Informational: how far the decode GEMVs (a stream of W) are from what reads
// alone reach; floors stay copy-based.
double read_bandwidth(cudaStream_t stream, const TimingOptions& opt);
// The read stream's rate against the bytes each SM keeps in flight: 16-byte streaming loads, 4, 8
// or 16 per thread in flight, 1, 2, 4 or 8 resident blocks of 256 threads per SM (fewer where
// occupancy caps them; repeats left out), 1 GiB each, median of opt.runs. The decode GEMVs keep
// 8 loads per thread in flight in 2+ blocks of 256 threads per SM: this says what depth a weight
// stream needs to read as fast as this device can.
struct ReadDepthRate {
  int loads_per_thread = 0;
  int threads_per_sm = 0;  // resident
  int registers = 0;       // per thread, as the kernel was built
  double bytes_per_s = 0;
  double kb_in_flight_per_sm() const { return threads_per_sm * loads_per_thread * 16.0 / 1024.0; }
  // 4 registers hold one load's 16 bytes: fewer than 4 per load means ptxas cannot keep them all
  // in flight, and the row's depth is not what it says.
  bool depth_held() const { return registers >= 4 * loads_per_thread; }
};
std::vector<ReadDepthRate> read_rate_by_depth(cudaStream_t stream, const TimingOptions& opt);

// The L2's read rate when every SM reads one 16 MB window (L2-resident after the warm-up; loads
// that skip the L1): 2 blocks of 256 threads per SM, 8 16-byte loads per thread in flight, each
// block the whole window, bytes = blocks x 16 MB, median of opt.runs. staggered false: all blocks
// from the window's start (the same lines at the same time, as the prefill's blocks read the one
// KV head's K/V tiles); true: block b from b / blocks of the way in. Informational: what the
// prefill's K/V supply can reach, and whether reading in step costs.
double l2_shared_read_bandwidth(cudaStream_t stream, const TimingOptions& opt, bool staggered);

// The same read through the copy engine: each block streams its contiguous share in 16 KB
// cp.async.bulk pieces through 4 shared-memory stages (3 blocks per SM). Whether a weight stream
// through bulk copies would beat per-thread loads (the decode GEMV's), before writing one.
double read_bandwidth_bulk(cudaStream_t stream, const TimingOptions& opt);

}  // namespace gqa::bench
