#include "launch/gqa_bench/timing.h"

#include <cuda/ptx>

#include <algorithm>

#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/global_timer.cuh"
#include "kernels/cuda/mbarrier_wait.cuh"
#include "kernels/cuda/stream_loads.cuh"

namespace gqa::bench {
namespace {

template <typename T>
__global__ void fill_uniform_kernel(T* p, size_t n, uint32_t seed, float scale, float offset) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    uint32_t x = static_cast<uint32_t>(i) * 2654435761u ^ seed ^ static_cast<uint32_t>(i >> 32);
    x ^= x >> 15;
    x *= 2246822519u;
    x ^= x >> 13;
    const float u = static_cast<float>(x) * (2.0f / 4294967296.0f) - 1.0f;
    p[i] = cuda::store_f32<T>(offset + scale * u);
  }
}

template <typename T>
void launch_fill(Tensor t, uint32_t seed, float scale, float offset, cudaStream_t stream) {
  fill_uniform_kernel<T><<<1024, 256, 0, stream>>>(t.data_as<T>(), static_cast<size_t>(t.numel()), seed, scale, offset);
  GQA_CUDA_LAUNCH_CHECK("fill_uniform_kernel");
}

// Reads n 16-byte vectors, kLoads per thread in flight (streaming loads, as the decode GEMV's),
// and writes one word per block so the loads are not optimised away. __launch_bounds__(256, 1):
// without a register budget ptxas aims at 32 registers (full occupancy) and then keeps only 4 of
// the loads in flight whatever kLoads says (it issues 4, then reuses their registers; seen in the
// sm_90 SASS of the 8- and 16-load builds); with it the three builds take 32, 48 and 80 registers
// and issue all kLoads loads before the first XOR. read_depth_registers reports the count.
constexpr int kReadLoads = 8;
constexpr int kReadThreads = 256;
// kPlain: plain loads instead (normal L2 allocation: the L2 flush's reads, which must evict the
// lines before them; streaming loads would be evicted first and leave those in place).
template <int kLoads, bool kPlain = false>
__global__ void __launch_bounds__(kReadThreads, 1) read_stream_kernel(const uint4* __restrict__ p, size_t n, uint32_t* out) {
  const auto load = [](const uint4* q) { return kPlain ? *q : cuda::load_stream(q); };
  uint32_t acc = 0;
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  for (; i + (kLoads - 1) * stride < n; i += kLoads * stride) {
    uint4 v[kLoads];
#pragma unroll
    for (int u = 0; u < kLoads; ++u) v[u] = load(p + i + u * stride);
#pragma unroll
    for (int u = 0; u < kLoads; ++u) acc ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
  }
  for (; i < n; i += stride) {
    const uint4 v = load(p + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  acc = __reduce_xor_sync(0xffffffffu, acc);
  if (threadIdx.x % 32 == 0) atomicXor(out + blockIdx.x, acc);
}

// Reads the same bytes through the copy engine: each block streams its contiguous share in
// kBulkBytes pieces, one cp.async.bulk each, through a ring of kBulkStages shared-memory stages
// (an mbarrier per stage), and XORs one word per piece so the data is used.
constexpr int kBulkStages = 4;
constexpr uint32_t kBulkBytes = 16384;
__global__ void read_bulk_kernel(const unsigned char* __restrict__ p, size_t pieces, uint32_t* out) {
  extern __shared__ __align__(128) unsigned char ring[];
  __shared__ __align__(8) uint64_t full[kBulkStages];
  namespace ptx = ::cuda::ptx;
  const size_t per_block = (pieces + gridDim.x - 1) / gridDim.x;
  const size_t first = blockIdx.x * per_block;
  const size_t last = first + per_block < pieces ? first + per_block : pieces;
  const int count = first < last ? static_cast<int>(last - first) : 0;
  if (threadIdx.x == 0) {
    for (int s = 0; s < kBulkStages; ++s) ptx::mbarrier_init(&full[s], 1);
    ptx::fence_mbarrier_init(ptx::sem_release, ptx::scope_cluster);
  }
  __syncthreads();
  const auto issue = [&](int i) {
    const uint32_t bytes = kBulkBytes;  // (a local: the ptx wrappers take references)
    uint64_t* bar = &full[i % kBulkStages];
    ptx::mbarrier_arrive_expect_tx(ptx::sem_release, ptx::scope_cta, ptx::space_shared, bar, bytes);
    ptx::cp_async_bulk(ptx::space_cluster, ptx::space_global, ring + size_t(i % kBulkStages) * bytes,
                       p + (first + i) * bytes, bytes, bar);
  };
  if (threadIdx.x == 0) {
    for (int i = 0; i < kBulkStages && i < count; ++i) issue(i);
  }
  uint32_t acc = 0;
  for (int i = 0; i < count; ++i) {
    cuda::mbarrier_wait(&full[i % kBulkStages], uint32_t((i / kBulkStages) & 1));
    acc ^= reinterpret_cast<const uint32_t*>(ring + size_t(i % kBulkStages) * kBulkBytes)[threadIdx.x];
    __syncthreads();  // every thread has read the stage before it is refilled
    if (threadIdx.x == 0 && i + kBulkStages < count) {
      ptx::fence_proxy_async(ptx::space_shared);
      issue(i + kBulkStages);
    }
  }
  acc = __reduce_xor_sync(0xffffffffu, acc);
  if (threadIdx.x % 32 == 0) atomicXor(out + blockIdx.x, acc);
}

// Every block reads the same n 16-byte vectors (an L2-resident window), kReadLoads per thread in
// flight, through the L2 only (ld.global.cg: no L1 copy, so each SM fetches its own), from vector
// `first` of the window on (wrapping round): first = 0 in every block (they read the same lines
// at the same time, as the prefill's blocks read the one KV head's tiles) or staggered.
__global__ void __launch_bounds__(kReadThreads, 2) read_shared_kernel(const uint4* __restrict__ p, size_t n,
                                                                    int staggered, uint32_t* out) {
  const size_t first = staggered ? (n / gridDim.x) * blockIdx.x : 0;
  uint32_t acc = 0;
  const size_t step = size_t(kReadLoads) * blockDim.x;
  for (size_t base = 0; base < n; base += step) {
    uint4 v[kReadLoads];
#pragma unroll
    for (int u = 0; u < kReadLoads; ++u) {
      size_t i = first + base + size_t(u) * blockDim.x + threadIdx.x;
      i = i < n ? i : i - n;
      v[u] = base + size_t(u) * blockDim.x + threadIdx.x < n ? __ldcg(p + i) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < kReadLoads; ++u) acc ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
  }
  acc = __reduce_xor_sync(0xffffffffu, acc);
  if (threadIdx.x % 32 == 0) atomicXor(out + blockIdx.x, acc);
}

__global__ void spin_kernel(int64_t cycles) {
  const int64_t start = clock64();
  while (clock64() - start < cycles) {
  }
}

// One thread: the SM clock's cycles over the global timer's nanoseconds while it spins `cycles`.
__global__ void clock_probe_kernel(int64_t cycles, double* mhz) {
  const uint64_t t0 = cuda::global_timer_ns();
  const int64_t start = clock64();
  int64_t now = start;
  while (now - start < cycles) now = clock64();
  const uint64_t t1 = cuda::global_timer_ns();
  *mhz = t1 > t0 ? 1e3 * static_cast<double>(now - start) / static_cast<double>(t1 - t0) : 0.0;
}

}  // namespace

double sm_clock_mhz(cudaStream_t stream) {
  Tensor out = cuda::device_alloc(DType::kI32, {2});  // (one double)
  clock_probe_kernel<<<1, 1, 0, stream>>>(2000000, reinterpret_cast<double*>(out.data()));
  GQA_CUDA_LAUNCH_CHECK("clock_probe_kernel");
  double mhz = 0;
  GQA_CUDA_CHECK(cudaMemcpyAsync(&mhz, out.data(), sizeof(mhz), cudaMemcpyDeviceToHost, stream));
  GQA_CUDA_CHECK(cudaStreamSynchronize(stream));
  return mhz;
}

void fill_uniform(Tensor t, uint32_t seed, float scale, float offset, cudaStream_t stream) {
  GQA_CHECK(t.device() == Device::kCuda, "fill_uniform: tensor " << shape_str(t.shape()) << " is not on the GPU");
  if (t.numel() == 0) return;
  GQA_CUDA_DISPATCH_FLOAT(t.dtype(), "fill_uniform", launch_fill, t, seed, scale, offset, stream);
}

void spin(cudaStream_t stream, int64_t cycles) {
  spin_kernel<<<1, 1, 0, stream>>>(cycles);
  GQA_CUDA_LAUNCH_CHECK("spin_kernel");
}

double median(std::vector<double> v) {
  GQA_CHECK(!v.empty(), "median of no values");
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

namespace {
constexpr int kCleanBlocksPerSm = 4;  // the flush's read: read_stream_kernel<kReadLoads, /*kPlain=*/true>
}  // namespace

L2Flush::L2Flush() {
  l2_bytes_ = static_cast<size_t>(cuda::current_l2_bytes());
  const int64_t words = static_cast<int64_t>(std::max<size_t>(l2_bytes_, 1 << 20));  // 4 bytes each: 4x the L2
  buffer_ = cuda::device_alloc(DType::kI32, {words});
  clean_ = cuda::device_alloc(DType::kI32, {words});
  GQA_CUDA_CHECK(cudaMemset(clean_.data(), 0, clean_.nbytes()));
  sink_ = cuda::device_alloc(DType::kI32, {int64_t{kCleanBlocksPerSm} * cuda::current_sm_count()});
}

void L2Flush::operator()(cudaStream_t stream) const {
  GQA_CUDA_CHECK(cudaMemsetAsync(buffer_.data(), 0, buffer_.nbytes(), stream));
  const int blocks = static_cast<int>(sink_.numel());
  read_stream_kernel<kReadLoads, true><<<blocks, kReadThreads, 0, stream>>>(
      clean_.data_as<const uint4>(), static_cast<size_t>(clean_.nbytes() / 16), sink_.data_as<uint32_t>());
  GQA_CUDA_LAUNCH_CHECK("read_stream_kernel (plain loads: the L2 flush)");
}

EventPair::EventPair() {
  GQA_CUDA_CHECK(cudaEventCreate(&start_));
  const cudaError_t err = cudaEventCreate(&stop_);
  if (err != cudaSuccess) {
    cudaEventDestroy(start_);
    cuda::throw_cuda_error(err, "cudaEventCreate(&stop_)", __FILE__, __LINE__);
  }
}

EventPair::~EventPair() {
  // (teardown: statuses ignored, a destructor must not throw)
  cudaEventDestroy(start_);
  cudaEventDestroy(stop_);
}

void EventPair::start(cudaStream_t stream) { GQA_CUDA_CHECK(cudaEventRecord(start_, stream)); }
void EventPair::stop(cudaStream_t stream) { GQA_CUDA_CHECK(cudaEventRecord(stop_, stream)); }

double EventPair::elapsed_ms() {
  GQA_CUDA_CHECK(cudaEventSynchronize(stop_));
  float ms = 0;
  GQA_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
  return ms;
}

double copy_bandwidth(cudaStream_t stream, const TimingOptions& opt) {
  const int64_t n = int64_t(1) << 29;  // bf16 elements: 1 GiB
  Tensor src = cuda::device_alloc(DType::kBF16, {n}), dst = cuda::device_alloc(DType::kBF16, {n});
  fill_uniform(src, 1, 1.0f, 0.0f, stream);
  const double ms = time_median_ms(stream, opt, [&](int) {
    GQA_CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), src.nbytes(), cudaMemcpyDeviceToDevice, stream));
  });
  return 2.0 * static_cast<double>(src.nbytes()) / (ms * 1e-3);
}

namespace {

// 1 GiB of random bf16 for the read streams below.
Tensor read_source(cudaStream_t stream, uint32_t seed) {
  Tensor src = cuda::device_alloc(DType::kBF16, {int64_t(8) << 26});
  fill_uniform(src, seed, 1.0f, 0.0f, stream);
  return src;
}

// Bytes per second read_stream_kernel<kLoads> reads src at, in `blocks` blocks of kReadThreads
// (median of opt.runs).
template <int kLoads>
double time_read(cudaStream_t stream, const TimingOptions& opt, const Tensor& src, int blocks) {
  Tensor sink = cuda::device_alloc(DType::kI32, {blocks});
  const size_t n = static_cast<size_t>(src.nbytes() / 16);
  const double ms = time_median_ms(stream, opt, [&](int) {
    read_stream_kernel<kLoads><<<blocks, kReadThreads, 0, stream>>>(src.data_as<const uint4>(), n,
                                                                    sink.data_as<uint32_t>());
    GQA_CUDA_LAUNCH_CHECK("read_stream_kernel");
  });
  return static_cast<double>(src.nbytes()) / (ms * 1e-3);
}

// Blocks of read_stream_kernel<kLoads> resident on one SM at once (the occupancy API).
template <int kLoads>
int resident_read_blocks() {
  int resident = 0;
  GQA_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&resident, read_stream_kernel<kLoads>, kReadThreads, 0));
  return resident;
}

// The row of read_rate_by_depth for kLoads loads per thread and `per_sm` blocks on each SM (at most
// what can be resident, so every block runs from the start), timed and added unless a row of the
// same depth and residency is there already (a depth capped by residency repeats the row before it).
template <int kLoads>
void add_depth_row(cudaStream_t stream, const TimingOptions& opt, const Tensor& src, int per_sm,
                   std::vector<ReadDepthRate>& rows) {
  const int resident = resident_read_blocks<kLoads>();
  cudaFuncAttributes attr{};
  GQA_CUDA_CHECK(cudaFuncGetAttributes(&attr, read_stream_kernel<kLoads>));
  ReadDepthRate r;
  r.loads_per_thread = kLoads;
  r.registers = attr.numRegs;
  r.threads_per_sm = kReadThreads * std::min(per_sm, resident);
  const bool repeat = std::any_of(rows.begin(), rows.end(), [&](const ReadDepthRate& o) {
    return o.loads_per_thread == r.loads_per_thread && o.threads_per_sm == r.threads_per_sm;
  });
  if (r.threads_per_sm == 0 || repeat) return;
  r.bytes_per_s = time_read<kLoads>(stream, opt, src, r.threads_per_sm / kReadThreads * cuda::current_sm_count());
  rows.push_back(r);
}

}  // namespace

double read_bandwidth(cudaStream_t stream, const TimingOptions& opt) {
  // As many blocks per SM as are resident at once (the occupancy API: 5 of 256 threads at 48
  // registers on an H200), one wave: asking 8 per SM (before the twenty-ninth session) ran ~1.6
  // waves, each reading the buffer with gaps (run 15: 3701 GB/s against 4212 for the same loads,
  // 256 threads per SM, in the depth table).
  const int resident = resident_read_blocks<kReadLoads>();
  GQA_CHECK(resident >= 1, "read_bandwidth: the read kernel fits no SM");
  return time_read<kReadLoads>(stream, opt, read_source(stream, 2), resident * cuda::current_sm_count());
}

std::vector<ReadDepthRate> read_rate_by_depth(cudaStream_t stream, const TimingOptions& opt) {
  const Tensor src = read_source(stream, 4);
  std::vector<ReadDepthRate> rows;
  for (int per_sm : {1, 2, 4, 8}) {
    add_depth_row<4>(stream, opt, src, per_sm, rows);
    add_depth_row<8>(stream, opt, src, per_sm, rows);
    add_depth_row<16>(stream, opt, src, per_sm, rows);
  }
  return rows;
}

double l2_shared_read_bandwidth(cudaStream_t stream, const TimingOptions& opt, bool staggered) {
  const int64_t window = int64_t(16) << 20;  // bytes: one layer's K and V of a 32K context, one KV head
  Tensor src = cuda::device_alloc(DType::kBF16, {window / 2});
  fill_uniform(src, 5, 1.0f, 0.0f, stream);
  const int blocks = 2 * cuda::current_sm_count();
  Tensor sink = cuda::device_alloc(DType::kI32, {blocks});
  const double ms = time_median_ms(stream, opt, [&](int) {
    read_shared_kernel<<<blocks, kReadThreads, 0, stream>>>(src.data_as<const uint4>(), size_t(window / 16),
                                                           staggered ? 1 : 0, sink.data_as<uint32_t>());
    GQA_CUDA_LAUNCH_CHECK("read_shared_kernel");
  });
  return double(blocks) * double(window) / (ms * 1e-3);
}

double read_bandwidth_bulk(cudaStream_t stream, const TimingOptions& opt) {
  const size_t pieces = (size_t(1) << 30) / kBulkBytes;  // 1 GiB
  Tensor src = cuda::device_alloc(DType::kBF16, {static_cast<int64_t>(pieces * kBulkBytes / 2)});
  fill_uniform(src, 3, 1.0f, 0.0f, stream);
  const int threads = 128, blocks = 3 * cuda::current_sm_count();  // 3 x 64 KB of stages per SM
  const size_t smem = size_t(kBulkStages) * kBulkBytes;
  GQA_CUDA_CHECK(cudaFuncSetAttribute(read_bulk_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  Tensor sink = cuda::device_alloc(DType::kI32, {blocks});
  const double ms = time_median_ms(stream, opt, [&](int) {
    read_bulk_kernel<<<blocks, threads, smem, stream>>>(src.data_as<const unsigned char>(), pieces,
                                                        sink.data_as<uint32_t>());
    GQA_CUDA_LAUNCH_CHECK("read_bulk_kernel");
  });
  return static_cast<double>(src.nbytes()) / (ms * 1e-3);
}

}  // namespace gqa::bench
