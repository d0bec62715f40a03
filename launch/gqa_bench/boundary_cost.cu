// The cost of a dependency between two phases, three ways (see boundary_cost.h).
#include "launch/gqa_bench/boundary_cost.h"

#include <cstdint>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/gpu_scope_atomics.cuh"
#include "kernels/cuda/pdl.cuh"

namespace gqa::bench {
namespace {

constexpr int kThreads = 256;
constexpr int kPhases = 64;
// ~seconds of polling (a legitimate wait is microseconds): a counter that never arrives (a block
// not resident, a lost release) traps instead of hanging the run.
constexpr long long kMaxSpins = 1LL << 22;

// Phase p: warp 0 sums the n values of row p (through the L2: another SM wrote them) and lane 0
// writes sum + block + p into row p + 1, the block's slot. Exact in unsigned arithmetic, so a
// stale read shows in the last row.
__device__ __forceinline__ void phase(unsigned* buf, int n, int p) {
  if (threadIdx.x < 32) {
    const unsigned* row = buf + size_t(p) * n;
    unsigned s = 0;
    for (int i = threadIdx.x; i < n; i += 32) s += __ldcg(row + i);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (threadIdx.x == 0) buf[size_t(p + 1) * n + blockIdx.x] = s + blockIdx.x + unsigned(p);
  }
}

// One phase a kernel; kPdl: launched with programmatic serialization, it waits for its
// predecessor and then lets its successor launch (pdl_wait: the decode GEMVs' order).
template <bool kPdl>
__global__ void __launch_bounds__(kThreads) phase_kernel(unsigned* buf, int n, int p) {
  if constexpr (kPdl) cuda::pdl_wait();
  phase(buf, n, p);
}

// Every phase in one grid of co-resident blocks: before phase p > 0, thread 0 polls the counter
// until every block has released phase p - 1 (base + p * blocks), then the block's barrier passes
// what it acquired on to warp 0. After its phase, thread 0 (which wrote the block's value)
// releases it by one increment. base: the counter's value when this launch starts.
__global__ void __launch_bounds__(kThreads) phases_kernel(unsigned* buf, unsigned* counter, unsigned base, int n,
                                                          int phases) {
  for (int p = 0; p < phases; ++p) {
    if (p > 0) {
      if (threadIdx.x == 0) {
        const unsigned target = base + unsigned(p) * gridDim.x;
        long long spins = 0;
        while (static_cast<int>(cuda::load_acquire_gpu(counter) - target) < 0) {
          if (++spins > kMaxSpins) __trap();
        }
      }
      __syncthreads();
    }
    phase(buf, n, p);
    if (threadIdx.x == 0) cuda::add_release_gpu(counter, 1u);
  }
}

// The last row the phases leave, from row 0 = 0, 1, ..., n - 1.
std::vector<unsigned> expected_last_row(int n, int phases) {
  std::vector<unsigned> row(n);
  for (int b = 0; b < n; ++b) row[b] = unsigned(b);
  for (int p = 0; p < phases; ++p) {
    unsigned s = 0;
    for (unsigned v : row) s += v;
    for (int b = 0; b < n; ++b) row[b] = s + unsigned(b) + unsigned(p);
  }
  return row;
}

// A graph of `phases` phase kernels (kPdl: programmatic edges between them), owned.
class PhaseGraph {
 public:
  template <bool kPdl>
  static PhaseGraph record(cudaStream_t stream, unsigned* buf, int n, int phases) {
    PhaseGraph g;
    cudaGraph_t graph = nullptr;
    GQA_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    for (int p = 0; p < phases; ++p) {
      cudaLaunchConfig_t cfg{};
      cfg.gridDim = dim3(n);
      cfg.blockDim = dim3(kThreads);
      cfg.stream = stream;
      cudaLaunchAttribute attr{};
      attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
      attr.val.programmaticStreamSerializationAllowed = 1;
      cfg.attrs = &attr;
      cfg.numAttrs = kPdl ? 1 : 0;
      const cudaError_t err = cudaLaunchKernelEx(&cfg, phase_kernel<kPdl>, buf, n, p);
      if (err != cudaSuccess) {
        cudaGraph_t broken = nullptr;
        cudaStreamEndCapture(stream, &broken);  // (ends the capture; the launch error is the one to report)
        if (broken != nullptr) cudaGraphDestroy(broken);
        cudaGetLastError();  // (clear it: reported here, not at the next section's launch check)
        cuda::throw_cuda_error(err, "cudaLaunchKernelEx (the dependency-cost phase kernel)", __FILE__, __LINE__);
      }
    }
    GQA_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
    const cudaError_t err = cudaGraphInstantiate(&g.exec_, graph, 0);
    cudaGraphDestroy(graph);
    if (err != cudaSuccess) {
      cudaGetLastError();
      cuda::throw_cuda_error(err, "cudaGraphInstantiate (the dependency-cost graph)", __FILE__, __LINE__);
    }
    return g;
  }
  PhaseGraph() = default;
  PhaseGraph(PhaseGraph&& o) noexcept : exec_(o.exec_) { o.exec_ = nullptr; }
  PhaseGraph& operator=(PhaseGraph&&) = delete;
  PhaseGraph(const PhaseGraph&) = delete;
  ~PhaseGraph() {
    // (teardown: statuses ignored, a destructor must not throw)
    if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
  }
  void launch(cudaStream_t stream) const { GQA_CUDA_CHECK(cudaGraphLaunch(exec_, stream)); }

 private:
  cudaGraphExec_t exec_ = nullptr;
};

// Whether the last row of buf (phases + 1 rows of n) holds `want` (waits for the stream).
bool last_row_matches(const Tensor& buf, const std::vector<unsigned>& want, int n, int phases, cudaStream_t stream) {
  std::vector<unsigned> last(n);
  cuda::copy_to_host(buf.slice_rows(int64_t(phases) * n, int64_t(phases + 1) * n), last.data(), stream);
  return last == want;
}

}  // namespace

BoundaryCosts boundary_costs(cudaStream_t stream, const TimingOptions& opt) {
  BoundaryCosts r;
  int n = cuda::current_sm_count();
  r.blocks = n;
  r.phases = kPhases;
  Tensor buf = cuda::device_alloc(DType::kI32, {int64_t(kPhases + 1) * n});
  Tensor counter = cuda::device_alloc(DType::kI32, {1});
  std::vector<unsigned> first(n);
  for (int b = 0; b < n; ++b) first[b] = unsigned(b);
  cuda::copy_to_device(first.data(), buf.slice_rows(0, n), stream);
  const std::vector<unsigned> want = expected_last_row(n, kPhases);
  unsigned* b = buf.data_as<unsigned>();
  bool match = true;

  // kCheckedRuns launches, each on rows 1..kPhases zeroed first and checked after: a stale read
  // then sees 0, where in the timed launches it would see the previous launch's (right) value, so
  // only a race in every timed launch would show in their last row. launch(i): the i-th launch.
  constexpr int kCheckedRuns = 16;
  const auto checked_runs = [&](const auto& launch) {
    for (int i = 0; i < kCheckedRuns; ++i) {
      cuda::fill_bytes(buf.slice_rows(n, int64_t(kPhases + 1) * n), 0, stream);
      launch(i);
      match = match && last_row_matches(buf, want, n, kPhases, stream);
    }
  };
  const auto time_graph = [&](const PhaseGraph& g) {
    checked_runs([&](int) { g.launch(stream); });
    cuda::fill_bytes(buf.slice_rows(n, int64_t(kPhases + 1) * n), 0, stream);
    const double ms = time_median_ms(stream, opt, [&](int) { g.launch(stream); });
    match = match && last_row_matches(buf, want, n, kPhases, stream);
    return ms * 1e3 / kPhases;
  };
  r.kernels_us = time_graph(PhaseGraph::record<false>(stream, b, n, kPhases));
  r.kernels_pdl_us = time_graph(PhaseGraph::record<true>(stream, b, n, kPhases));

  // The counter variant: a cooperative launch, so every block is resident (or the launch fails).
  int cooperative = 0, dev = 0, per_sm = 0;
  GQA_CUDA_CHECK(cudaGetDevice(&dev));
  GQA_CUDA_CHECK(cudaDeviceGetAttribute(&cooperative, cudaDevAttrCooperativeLaunch, dev));
  GQA_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, phases_kernel, kThreads, 0));
  GQA_CHECK(cooperative != 0 && per_sm >= 1, "boundary_costs: the device cannot keep " << n << " blocks of "
                                                 << kThreads << " threads resident (cooperative launch "
                                                 << cooperative << ", blocks per SM " << per_sm << ")");
  unsigned* c = counter.data_as<unsigned>();
  int phases = kPhases;
  const auto launch_counter = [&](int i) {  // the i-th launch since the counter was zeroed
    unsigned base = unsigned(i) * unsigned(kPhases) * unsigned(n);  // the counter after i launches
    void* args[] = {&b, &c, &base, &n, &phases};
    GQA_CUDA_CHECK(cudaLaunchCooperativeKernel(reinterpret_cast<void*>(phases_kernel), dim3(n), dim3(kThreads), args,
                                               0, stream));
  };
  cuda::fill_bytes(counter, 0, stream);
  checked_runs(launch_counter);
  cuda::fill_bytes(counter, 0, stream);
  cuda::fill_bytes(buf.slice_rows(n, int64_t(kPhases + 1) * n), 0, stream);
  const double ms = time_median_ms(stream, opt, launch_counter);
  r.counter_us = ms * 1e3 / kPhases;
  match = match && last_row_matches(buf, want, n, kPhases, stream);
  r.results_match = match;
  return r;
}

}  // namespace gqa::bench
