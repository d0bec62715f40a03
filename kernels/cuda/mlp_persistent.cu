// The MLP half of a decode layer as one persistent kernel (mlp_persistent.h: the design). The
// pieces are the decode GEMVs' (gemv_kernel.cuh's norm prologue and reductions, gemv_bulk.cuh's
// copies and arithmetic, gemv_maps.cuh's epilogues); what is new is the ring running through two
// GEMVs with one grid barrier between them.
#include "kernels/cuda/mlp_persistent.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <mutex>
#include <tuple>
#include <type_traits>

#include <cuda/ptx>

#include "kernels/cuda/device_info.h"
#include "kernels/cuda/dynamic_smem.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/gemv_bulk.cuh"
#include "kernels/cuda/gemv_maps.cuh"
#include "kernels/cuda/global_timer.cuh"
#include "kernels/cuda/gpu_scope_atomics.cuh"
#include "kernels/cuda/mbarrier_wait.cuh"
#include "kernels/cuda/mlp_persistent_plan.h"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/per_device.h"

namespace gqa::cuda {
namespace {

using namespace gemv_detail;

constexpr const char* kOp = "cuda mlp_persistent";

// The grid barrier's words (one pair per device: a module variable). count: blocks arrived at the
// current barrier; generation: barriers completed. Zero at module load; every barrier leaves count 0.
struct GridBarrierWords {
  unsigned count;
  unsigned generation;
};
__device__ GridBarrierWords g_mlp_barrier;

// Every block of the grid, every thread: returns once every block has arrived, with every write a
// block made before arriving visible to every block after (cooperative groups' grid sync, on the
// words above). Thread 0 reads the generation before arriving (it cannot move until this block has
// arrived), arrives with a release; the last to arrive resets the count and releases the next
// generation; the others wait for it with acquire loads, under mbarrier_wait's watchdog (a block
// that never arrives traps rather than hangs).
__device__ __forceinline__ void grid_barrier() {
  __syncthreads();  // this block's writes (every thread's) before thread 0's release
  if (threadIdx.x == 0) {
    const unsigned gen = load_acquire_gpu(&g_mlp_barrier.generation);
    __threadfence();
    const unsigned arrived = atomicAdd(&g_mlp_barrier.count, 1u);
    if (arrived == gridDim.x - 1) {
      atomicExch(&g_mlp_barrier.count, 0u);
      __threadfence();
      atomicAdd(&g_mlp_barrier.generation, 1u);
    } else {
      const uint64_t start = global_timer_ns();
      while (load_acquire_gpu(&g_mlp_barrier.generation) == gen) {
        if (static_cast<int64_t>(global_timer_ns() - start) > static_cast<int64_t>(kMbarrierWatchdogNs)) {
          GQA_DEVICE_FAULT(DeviceFaultCode::kGridBarrierWatchdog, gen, gridDim.x, 0);
        }
      }
    }
    __threadfence();
  }
  __syncthreads();
}

// One phase: y (the map's output) = x W^T over `units` units of W (every gridDim-th from blockIdx.x
// is this block's), R-row groups of k columns, group_warps warps each.
template <typename T, class M>
struct Phase {
  const T* w;
  M map;
  int k;
  int group_warps;
  int units;
  __device__ __forceinline__ int mine() const {
    const int first = static_cast<int>(blockIdx.x), step = static_cast<int>(gridDim.x);
    return first < units ? (units - 1 - first) / step + 1 : 0;
  }
  __device__ __forceinline__ long long unit(int u) const {
    return static_cast<long long>(blockIdx.x) + static_cast<long long>(u) * gridDim.x;
  }
};

template <typename T>
struct MlpParams {
  NormIn<T> norm;
  Phase<T, SwiGluRows<T>> up;  // [gate; up] W [2f, k] -> act [N, f]
  Phase<T, PlainRows<T>> down;  // W [k_out, f], x = act -> y [N, k_out]
  int stages;
  int stage_chunks;  // 16-byte chunks per stage
  long long late_block_ns;  // a test's delay of the last block (set_mlp_persistent_late_block_ns), else 0
};

// The work items of a block in ring order: its gate/up units, then its down units. Thread 0 copies
// item j into stage j % stages (completing on full[j % stages], phase j / stages).
template <typename T, int R>
__device__ __forceinline__ void issue_item(const MlpParams<T>& p, int j, int mine_up, uint4* ring, uint64_t* full) {
  const int s = j % p.stages;
  uint4* dst = ring + static_cast<size_t>(s) * p.stage_chunks;
  if (j < mine_up) {
    copy_unit_rows<T, R>(p.up.w, p.up.map, p.up.unit(j), kWarps / p.up.group_warps, p.up.k, dst, &full[s]);
  } else {
    const int u = j - mine_up;
    copy_unit_rows<T, R>(p.down.w, p.down.map, p.down.unit(u), kWarps / p.down.group_warps, p.down.k, dst, &full[s]);
  }
}

// The block's units of one phase (items j0 .. j0 + ph.mine() - 1) against the rows xv (shared
// memory), each computed once its stage has landed; its stage refilled with item j + stages once
// every warp is done with it (before this unit's stores, so the copy starts at once).
template <typename T, int N, class M>
__device__ __forceinline__ void run_phase(const MlpParams<T>& p, const Phase<T, M>& ph, const uint4* xv, int j0,
                                          int mine_up, int total, uint4* ring, uint64_t* full,
                                          float (&partial)[2][kWarps][N * Tile<N>::rows]) {
  constexpr int R = Tile<N>::rows;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int group = warp / ph.group_warps;
  const int t = (warp % ph.group_warps) * 32 + lane, stride = ph.group_warps * 32;
  const int kc = ph.k / 8;
  const int mine = ph.mine();
  for (int u = 0; u < mine; ++u) {
    const int j = j0 + u, s = j % p.stages;
    mbarrier_wait(&full[s], static_cast<uint32_t>((j / p.stages) & 1));
    const uint4* ws = ring + static_cast<size_t>(s) * p.stage_chunks + static_cast<size_t>(group) * R * kc;
    float acc[N][R];
    dot_rows_in_smem<T, N, R>(ws, xv, kc, t, stride, acc);
    reduce_to_partial<N, R>(acc, partial[j & 1]);
    __syncthreads();  // every warp is done with stage s (and has put its sums in partial[j & 1])
    if (threadIdx.x == 0 && j + p.stages < total) {
      ::cuda::ptx::fence_proxy_async(::cuda::ptx::space_shared);  // those generic reads before the copy's write
      issue_item<T, R>(p, j + p.stages, mine_up, ring, full);
    }
    // (partial[j & 1] is written again by item j + 2, after item j + 1's barrier). The stores from
    // the block's last threads: thread 0 has just issued the refill (a unit of one output would
    // otherwise wait for it in warp 0).
    store_from_partial<N, R>(partial[j & 1], ph.map, ph.group_warps, ph.unit(u), kThreads - 1 - threadIdx.x);
  }
}

template <typename T, int N>
__global__ void __launch_bounds__(kThreads, 1) mlp_persistent_kernel(const MlpParams<T> p) {
  constexpr int R = Tile<N>::rows;
  extern __shared__ __align__(128) uint4 smem[];  // [stages][stage_chunks], then x [N][k / 8], then act [N][f / 8]
  __shared__ __align__(8) uint64_t full[kMlpStagesMax];
  __shared__ float partial[2][kWarps][N * R];
  namespace ptx = ::cuda::ptx;
  const int mine_up = p.up.mine(), total = mine_up + p.down.mine();
  uint4* ring = smem;
  uint4* xs = smem + static_cast<size_t>(p.stages) * p.stage_chunks;
  uint4* acts = xs + static_cast<size_t>(N) * (p.up.k / 8);
  if (threadIdx.x == 0) {
    for (int s = 0; s < p.stages; ++s) ptx::mbarrier_init(&full[s], 1);
    ptx::fence_mbarrier_init(ptx::sem_release, ptx::scope_cluster);
    for (int j = 0; j < p.stages && j < total; ++j) issue_item<T, R>(p, j, mine_up, ring, full);  // W: before the wait
  }
  pdl_wait();
  if (p.late_block_ns > 0 && blockIdx.x == gridDim.x - 1) {  // (a test's: every thread of the last block waits)
    const uint64_t start = global_timer_ns();
    while (static_cast<long long>(global_timer_ns() - start) < p.late_block_ns) {
    }
  }
  norm_prologue<T, N>(p.norm, p.up.k / 8, xs);  // (ends with a block barrier: full[] initialised too)
  run_phase<T, N>(p, p.up, xs, 0, mine_up, total, ring, full, partial);
  grid_barrier();  // every block's act stored
  const uint4* act = reinterpret_cast<const uint4*>(p.up.map.act);
  const int act_chunks = N * (p.down.k / 8);
  for (int c = threadIdx.x; c < act_chunks; c += kThreads) acts[c] = __ldcg(act + c);  // (from the L2)
  __syncthreads();
  run_phase<T, N>(p, p.down, acts, mine_up, mine_up, total, ring, full, partial);
}

// The launch shape of a call: units of each phase, the shared-memory plan, the grid.
struct Shape2 {
  BulkUnit up, down;
  MlpPersistentPlan plan;
  int blocks = 0;
};

// The kernel's static shared memory (its own arrays, within the per-block limit beside the dynamic).
template <typename T, int N>
size_t kernel_static_bytes() {
  static PerDevice<size_t> cached;
  return cached.get([](int) {
    cudaFuncAttributes a{};
    GQA_CUDA_CHECK(cudaFuncGetAttributes(&a, mlp_persistent_kernel<T, N>));
    return a.sharedSizeBytes;
  });
}

// The device's per-block shared-memory limit (static + dynamic, with the opt-in).
size_t smem_per_block_optin() {
  static PerDevice<size_t> cached;
  return cached.get([](int device) {
    int v = 0;
    GQA_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    return static_cast<size_t>(v);
  });
}

// The launch shape for hidden k, FFN f and k_out down rows: blocks 0 where the kernel cannot serve.
template <typename T, int N>
Shape2 compute_shape(int64_t k, int64_t f, int64_t k_out) {
  constexpr int R = Tile<N>::rows;
  Shape2 s;
  s.up = bulk_unit(k, R, sizeof(T), (2 * f + R - 1) / R);
  s.down = bulk_unit(f, R, sizeof(T), (k_out + R - 1) / R);
  if (!bulk_serves(k, R, sizeof(T)) || !bulk_serves(f, R, sizeof(T))) return s;
  const size_t rows = static_cast<size_t>(N) * static_cast<size_t>(k + f) * sizeof(T);  // x and act
  const size_t static_bytes = kernel_static_bytes<T, N>(), limit = smem_per_block_optin();
  s.plan = mlp_persistent_plan(s.up.bytes, s.down.bytes, rows, static_bytes, limit);
  if (!s.plan.ok) return s;
  allow_dynamic_smem(mlp_persistent_kernel<T, N>, limit - static_bytes);  // (once: the most any call asks)
  int per_sm = 0;
  GQA_CUDA_CHECK(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, mlp_persistent_kernel<T, N>, kThreads, s.plan.smem));
  if (per_sm < 1) return s;
  // One block per SM (the plan fills an SM's shared memory), and no more blocks than units.
  s.blocks = static_cast<int>(std::min<int64_t>(std::max(s.up.units, s.down.units), current_sm_count()));
  return s;
}

// compute_shape, worked out once per device and shape (its device queries and occupancy off every
// later call: mlp_persistent_serves and each launch ask).
template <typename T, int N>
Shape2 shape_for(int64_t k, int64_t f, int64_t k_out) {
  static std::mutex mu;
  static std::map<std::tuple<int, int64_t, int64_t, int64_t>, Shape2> known;
  int device = 0;
  GQA_CUDA_CHECK(cudaGetDevice(&device));
  const std::tuple<int, int64_t, int64_t, int64_t> key(device, k, f, k_out);
  {
    std::lock_guard<std::mutex> lock(mu);
    if (const auto it = known.find(key); it != known.end()) return it->second;
  }
  const Shape2 s = compute_shape<T, N>(k, f, k_out);
  std::lock_guard<std::mutex> lock(mu);
  known.emplace(key, s);
  return s;
}

template <typename F>
auto with_n(int64_t n, DType dt, const F& f) {
  if (dt == DType::kBF16) {
    return n == 1 ? f(__nv_bfloat16{}, std::integral_constant<int, 1>{}) : f(__nv_bfloat16{}, std::integral_constant<int, 2>{});
  }
  return n == 1 ? f(__half{}, std::integral_constant<int, 1>{}) : f(__half{}, std::integral_constant<int, 2>{});
}

bool apart(const Tensor& a, const std::initializer_list<const Tensor*>& others) {
  for (const Tensor* o : others) {
    if (o->defined() && overlaps(a, *o)) return false;
  }
  return true;
}

// Everything but the device's shared-memory plan (the operand rules of mlp_persistent_serves).
bool operands_ok(const AddRmsNormArgs& norm, const MatmulArgs& gate_up, const Tensor& act, const MatmulArgs& down) {
  if (!gate_up.x.defined() || gate_up.x.ndim() != 2) return false;
  const int64_t n = gate_up.x.dim(0);
  if (n < 1 || n > kMlpPersistentMaxRows || gate_up.bias.defined() || down.bias.defined()) return false;
  if (!gemv_swiglu_supported(gate_up.x, gate_up.w, act) || !gemv_supported(act, down.w, down.y)) return false;
  if (!down.x.defined() || down.x.data() != act.data() || down.x.shape() != act.shape() ||
      down.x.dtype() != act.dtype()) {
    return false;
  }
  if (!gemv_norm_supported(norm, gate_up.x) || !norm.residual.defined()) return false;
  // Read before the barrier, written after it: down.y may be h (norm.residual, norm.out); nothing else.
  return apart(act, {&norm.x, &norm.residual, &norm.weight, &norm.x_out, &gate_up.w, &down.w, &down.y}) &&
         apart(down.y, {&norm.x, &norm.weight, &norm.x_out, &gate_up.w, &down.w}) &&
         apart(norm.x_out, {&norm.out, &gate_up.w, &down.w});
}

std::atomic<int64_t> g_launches{0};  // mlp_persistent_launches()
std::atomic<int64_t> g_late_block_ns{0};  // set_mlp_persistent_late_block_ns()

}  // namespace

GQA_PROCESS_SWITCH(mlp_persistent_enabled, set_mlp_persistent, "GQA_MLP_PERSISTENT", false)

int64_t mlp_persistent_launches() { return g_launches.load(); }

void set_mlp_persistent_late_block_ns(int64_t ns) { g_late_block_ns.store(ns < 0 ? 0 : ns); }

namespace {

// Where the kernel serves these operands, calls f(T{}, rows, shape) and returns true; else false.
template <typename F>
bool when_served(const AddRmsNormArgs& norm, const MatmulArgs& gate_up, const Tensor& act, const MatmulArgs& down,
                 const F& f) {
  if (!operands_ok(norm, gate_up, act, down)) return false;
  const int64_t n = gate_up.x.dim(0), k = gate_up.x.dim(1), fdim = act.dim(1), k_out = down.y.dim(1);
  return with_n(n, act.dtype(), [&](auto tag, auto rows) {
    const Shape2 s = shape_for<decltype(tag), decltype(rows)::value>(k, fdim, k_out);
    if (s.blocks < 1) return false;
    f(tag, rows, s);
    return true;
  });
}

}  // namespace

bool mlp_persistent_serves(const AddRmsNormArgs& norm, const MatmulArgs& gate_up, const Tensor& act,
                           const MatmulArgs& down) {
  return when_served(norm, gate_up, act, down, [](auto, auto, const Shape2&) {});
}

bool try_mlp_persistent(const AddRmsNormArgs& norm, const MatmulArgs& gate_up, const Tensor& act,
                        const MatmulArgs& down, cudaStream_t stream) {
  return when_served(norm, gate_up, act, down, [&](auto tag, auto rows, const Shape2& s) {
    using T = decltype(tag);
    constexpr int N = decltype(rows)::value;
    const int64_t k = gate_up.x.dim(1), f = act.dim(1), k_out = down.y.dim(1);
    MlpParams<T> p{};
    p.norm = norm_in<T>(norm);
    p.up = {gate_up.w.data_as<const T>(), SwiGluRows<T>{act.data_as<T>(), static_cast<int>(f)}, static_cast<int>(k),
            s.up.group_warps, static_cast<int>(s.up.units)};
    p.down = {down.w.data_as<const T>(), PlainRows<T>{down.y.data_as<T>(), static_cast<int>(k_out)},
              static_cast<int>(f), s.down.group_warps, static_cast<int>(s.down.units)};
    p.stages = s.plan.stages;
    p.stage_chunks = static_cast<int>(s.plan.stage_bytes / 16);
    p.late_block_ns = static_cast<long long>(g_late_block_ns.load());
    launch_pdl("mlp_persistent_kernel", mlp_persistent_kernel<T, N>, dim3(static_cast<unsigned>(s.blocks)),
               dim3(kThreads), s.plan.smem, stream, p);
    g_launches.fetch_add(1);
  });
}

void mlp_persistent(const AddRmsNormArgs& norm, const MatmulArgs& gate_up, const Tensor& act, const MatmulArgs& down,
                    cudaStream_t stream) {
  GQA_CHECK(try_mlp_persistent(norm, gate_up, act, down, stream),
            kOp << ": unsupported operands: x " << shape_str(gate_up.x.shape()) << " " << dtype_name(gate_up.x.dtype())
                << ", gate/up w " << shape_str(gate_up.w.shape()) << ", act " << shape_str(act.shape()) << ", down w "
                << shape_str(down.w.shape()) << ", y " << shape_str(down.y.shape())
                << " (needs 1 to " << kMlpPersistentMaxRows << " rows, no biases, the decode GEMVs' rules for both "
                << "projections, down.x = act, the norm prologue's rules with a residual, act apart from every other "
                << "tensor, y apart from all but the norm's residual and output, and the shared-memory plan to fit)");
}

}  // namespace gqa::cuda
