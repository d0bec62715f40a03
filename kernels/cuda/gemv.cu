// The decode-step GEMM y[n, m] = x[n, k] W[m, k]^T for n <= kGemvMaxRows (gemv.h): a stream of W.
//
// Mapping. k is cut into chunks of 8 elements (16 bytes; k % 8 == 0). A block is 8 warps; its
// warps form row groups of G warps (G = 1, 2, 4 or 8, chosen on the host from k and m), and each
// row group owns R consecutive rows of W (R = 2 for n <= 2, else 4): output columns j0 .. j0+R-1
// of all n rows of y. The group's 32*G threads walk the chunks of those rows, thread t taking
// chunks t, t + 32G, t + 64G, ...: every warp load instruction reads 512 contiguous bytes of one
// W row. Per step a thread first issues U * R 16-byte W loads (R * U = 8: 128 bytes in flight per
// thread; ld.global.nc.L1::no_allocate, W is read once and must not evict x from L1), then for
// each of the n x rows loads the matching 16 bytes of x (plain loads, L1-resident: x is at most
// 8 * k * 2 bytes and read by every block) and accumulates the n * R dot products in f32 from the
// same W registers. Afterwards each warp sums its n * R partials with xor shuffles (full mask),
// lane 0 puts them in shared memory, and after one __syncthreads thread (group g, output o) adds
// the G warps' partials of its group and writes one rounded element of y. Rows past m (the last
// block) read row m - 1 instead (always mapped) and write nothing; chunks past k are skipped.
// A lane may have no chunk at all (k < 256 G): it contributes zeros, still shuffles and syncs.
#include <atomic>
#include <cstdint>

#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_types.cuh"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/stream_loads.cuh"

namespace gqa::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kLoadsPerStep = 8;  // 16-byte W loads a thread has in flight per step (R * U)
constexpr int kMinBlocks = 264;   // two blocks per SM of an H100/H200 (132 SMs)

// W rows per row group (R) and chunks per thread per step (U), for n rows of x. More W rows per
// group at larger n: each 16-byte x vector read from L1 then feeds R rows' FMAs, so L1 serves
// n * 16 / R bytes of x per 16 bytes of W streamed from HBM (at most 32 B: well within L1 rates).
template <int N>
struct Tile {
  static constexpr int rows = N <= 2 ? 2 : 4;
  static constexpr int unroll = kLoadsPerStep / rows;
};

// One step of a thread: chunks c0 + u * stride (u < U) of its group's R rows of W, times the same
// chunks of the N rows of x, into acc. Full: every chunk is below kc (no per-chunk tests, so the
// compiler can batch the x loads); otherwise only the chunks below kc (c0 < kc is given).
template <typename T, int N, bool Full>
__device__ __forceinline__ void gemv_step(const uint4* const (&wrow)[Tile<N>::rows], const uint4* xv, int kc, int c0,
                                          int stride, float (&acc)[N][Tile<N>::rows]) {
  constexpr int R = Tile<N>::rows, U = Tile<N>::unroll;
  uint4 wv[U][R];
#pragma unroll
  for (int u = 0; u < U; ++u) {  // all of the step's W loads first: U * R in flight
    const int c = c0 + u * stride;
#pragma unroll
    for (int r = 0; r < R; ++r) wv[u][r] = Full || c < kc ? load_stream(wrow[r] + c) : make_uint4(0u, 0u, 0u, 0u);
  }
#pragma unroll
  for (int u = 0; u < U; ++u) {
    const int c = c0 + u * stride;
    if (!Full && c >= kc) break;  // c grows with u
    float wf[R][8];
#pragma unroll
    for (int r = 0; r < R; ++r) unpack16<T>(wv[u][r], wf[r]);
#pragma unroll
    for (int i = 0; i < N; ++i) {
      float xf[8];
      unpack16<T>(xv[static_cast<size_t>(i) * kc + c], xf);
#pragma unroll
      for (int r = 0; r < R; ++r) {
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[i][r] = fmaf(xf[e], wf[r][e], acc[i][r]);
      }
    }
  }
}

// x [N, k], w [m, k], y [N, m]; x and w 16-byte aligned, k % 8 == 0; group_warps = G.
// kSwiGlu: w stacks gate_proj over up_proj (m = 2f) and y is [N, f] = silu(gate) * up: a row
// group's R rows are gate rows j0..j0+R/2-1 and the up rows f + j0.., so the epilogue holds both
// halves of each of its R/2 outputs (rows past f read row f - 1 / 2f - 1 and write nothing).
template <typename T, int N, bool kSwiGlu = false>
__global__ void __launch_bounds__(kThreads)
    gemv_kernel(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ y, int m, int k, int group_warps) {
  constexpr int R = Tile<N>::rows, U = Tile<N>::unroll;
  constexpr int kOut = kSwiGlu ? R / 2 : R;                // outputs (columns of y) per row group
  __shared__ float partial[kWarps][N * R];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int groups = kWarps / group_warps;                 // row groups per block
  const int group = warp / group_warps;                    // this warp's row group
  const int t = (warp % group_warps) * 32 + lane;          // this thread's place in its group
  const int stride = group_warps * 32;                     // chunks one group pass covers
  const int kc = k / 8;                                    // 16-byte chunks per row
  const int m_out = kSwiGlu ? m / 2 : m;                   // columns of y
  const long long col0 = static_cast<long long>(blockIdx.x) * groups * kOut + static_cast<long long>(group) * kOut;

  const uint4* wrow[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const long long col = col0 + r % kOut < m_out ? col0 + r % kOut : m_out - 1;  // past: a mapped row, result unused
    const long long row = kSwiGlu && r >= kOut ? m_out + col : col;              // up rows after the gate rows
    wrow[r] = reinterpret_cast<const uint4*>(w + row * k);
  }
  // Before waiting for the kernel this one may overlap (PDL), start the first step's W lines on
  // their way into the L2. Only prefetches may precede pdl_wait: the L2 is where every SM's writes
  // land, so a prefetch can never leave a stale copy of data a predecessor is still writing.
#pragma unroll
  for (int u = 0; u < U; ++u) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      if (t + u * stride < kc) prefetch_l2(wrow[r] + t + u * stride);
    }
  }
  pdl_wait();
  const uint4* xv = reinterpret_cast<const uint4*>(x);  // row i, chunk c: xv[i * kc + c]

  float acc[N][R];
#pragma unroll
  for (int i = 0; i < N; ++i) {
#pragma unroll
    for (int r = 0; r < R; ++r) acc[i][r] = 0.0f;
  }

  int c0 = t;
  for (; c0 + (U - 1) * stride < kc; c0 += stride * U) gemv_step<T, N, true>(wrow, xv, kc, c0, stride, acc);
  if (c0 < kc) gemv_step<T, N, false>(wrow, xv, kc, c0, stride, acc);  // the last, partial step

  // Warp sums, then the G warps of each group through shared memory.
#pragma unroll
  for (int i = 0; i < N; ++i) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      float v = acc[i][r];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      if (lane == 0) partial[warp][i * R + r] = v;
    }
  }
  __syncthreads();
  const int tid = threadIdx.x;
  if (tid < groups * N * kOut) {  // groups * N * kOut <= 8 * 8 * 4 = kThreads
    const int g = tid / (N * kOut), o = tid % (N * kOut), i = o / kOut, r = o % kOut;
    const long long col = static_cast<long long>(blockIdx.x) * groups * kOut + static_cast<long long>(g) * kOut + r;
    if (col < m_out) {
      float s = 0.0f;
      for (int q = 0; q < group_warps; ++q) s += partial[g * group_warps + q][i * R + r];
      if constexpr (kSwiGlu) {
        float u = 0.0f;
        for (int q = 0; q < group_warps; ++q) u += partial[g * group_warps + q][i * R + r + kOut];
        s = s / (1.0f + expf(-s)) * u;  // silu(gate) * up, as swiglu.cu (from the f32 sums, not rounded ones)
      }
      y[static_cast<long long>(i) * m_out + col] = store_f32<T>(s);
    }
  }
}

// G: split each row's chunks over more warps while every thread keeps at least two full steps;
// then, while the grid is small (few rows), split further down to one full step per thread.
int group_warps_for(int64_t kc, int64_t m, int rows) {
  const int64_t per_step = int64_t{32} * (kLoadsPerStep / rows);  // chunks one warp covers per step
  auto blocks = [&](int g) { return (m + int64_t{kWarps / g} * rows - 1) / (int64_t{kWarps / g} * rows); };
  int g = 1;
  while (g < kWarps && kc >= 2 * (2 * g) * per_step) g *= 2;
  while (g < kWarps && blocks(g) < kMinBlocks && kc >= (2 * g) * per_step) g *= 2;
  return g;
}

template <typename T, int N, bool kSwiGlu>
void launch_n(const Tensor& x, const Tensor& w, const Tensor& y, int m, int k, cudaStream_t stream) {
  const int g = group_warps_for(k / 8, m, Tile<N>::rows);
  const int cols_per_block = kWarps / g * (kSwiGlu ? Tile<N>::rows / 2 : Tile<N>::rows);
  const int64_t cols = kSwiGlu ? m / 2 : m;
  const unsigned int blocks = static_cast<unsigned int>((cols + cols_per_block - 1) / cols_per_block);
  launch_pdl(kSwiGlu ? "gemv_kernel (swiglu)" : "gemv_kernel", gemv_kernel<T, N, kSwiGlu>, dim3(blocks),
             dim3(kThreads), 0, stream, x.data_as<const T>(), w.data_as<const T>(), y.data_as<T>(), m, k, g);
}

template <typename T, bool kSwiGlu>
void launch(const Tensor& x, const Tensor& w, const Tensor& y, cudaStream_t stream) {
  const int n = static_cast<int>(x.dim(0)), m = static_cast<int>(w.dim(0)), k = static_cast<int>(x.dim(1));
  static_assert(kGemvMaxRows == 8, "gemv: one instantiation per n");
  switch (n) {
    case 1: launch_n<T, 1, kSwiGlu>(x, w, y, m, k, stream); break;
    case 2: launch_n<T, 2, kSwiGlu>(x, w, y, m, k, stream); break;
    case 3: launch_n<T, 3, kSwiGlu>(x, w, y, m, k, stream); break;
    case 4: launch_n<T, 4, kSwiGlu>(x, w, y, m, k, stream); break;
    case 5: launch_n<T, 5, kSwiGlu>(x, w, y, m, k, stream); break;
    case 6: launch_n<T, 6, kSwiGlu>(x, w, y, m, k, stream); break;
    case 7: launch_n<T, 7, kSwiGlu>(x, w, y, m, k, stream); break;
    case 8: launch_n<T, 8, kSwiGlu>(x, w, y, m, k, stream); break;
    default: GQA_FAIL("cuda gemv: " << n << " rows of x, at most " << kGemvMaxRows);
  }
}

std::atomic<bool>& fused_swiglu_flag() {
  static std::atomic<bool> flag{env_switch("GQA_FUSED_SWIGLU", false)};  // off unless GQA_FUSED_SWIGLU=1
  return flag;
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

bool decode_gemv_operands_ok(const Tensor& x, const Tensor& w, const Tensor& y, int64_t min_rows, int64_t max_rows) {
  if (!x.defined() || !w.defined() || !y.defined()) return false;
  if (x.device() != Device::kCuda || w.device() != Device::kCuda || y.device() != Device::kCuda) return false;
  if (x.ndim() != 2 || w.ndim() != 2 || y.ndim() != 2) return false;
  const DType dt = x.dtype();
  if ((dt != DType::kBF16 && dt != DType::kF16) || w.dtype() != dt || y.dtype() != dt) return false;
  const int64_t n = x.dim(0), k = x.dim(1), m = w.dim(0);
  if (w.dim(1) != k || y.dim(0) != n || y.dim(1) != m) return false;
  if (n < min_rows || n > max_rows || m < 1 || m > INT32_MAX || k < 8 || k > INT32_MAX || k % 8 != 0) return false;
  return aligned16(x.data()) && aligned16(w.data());
}

void check_decode_gemv_call(const char* op, const Tensor& x, const Tensor& w, const Tensor& y, int64_t min_rows,
                            int64_t max_rows) {
  GQA_CHECK(decode_gemv_operands_ok(x, w, y, min_rows, max_rows),
            op << ": unsupported operands x " << shape_str(x.shape()) << " " << dtype_name(x.dtype()) << ", w "
               << shape_str(w.shape()) << " " << dtype_name(w.dtype()) << ", y " << shape_str(y.shape()) << " "
               << dtype_name(y.dtype()) << " (needs device bf16/f16 tensors of one dtype, " << min_rows
               << " <= n <= " << max_rows << ", k % 8 == 0, x and w 16-byte aligned)");
  GQA_CHECK(!overlaps(y, x) && !overlaps(y, w), op << ": output y " << shape_str(y.shape()) << " overlaps an input");
}

bool gemv_supported(const Tensor& x, const Tensor& w, const Tensor& y) {
  return decode_gemv_operands_ok(x, w, y, 1, kGemvMaxRows);
}

void gemv(const Tensor& x, const Tensor& w, const Tensor& y, cudaStream_t stream) {
  check_decode_gemv_call("cuda gemv", x, w, y, 1, kGemvMaxRows);
  if (x.dtype() == DType::kBF16) {
    launch<__nv_bfloat16, false>(x, w, y, stream);
  } else {
    launch<__half, false>(x, w, y, stream);
  }
}

bool fused_swiglu_enabled() { return fused_swiglu_flag().load(std::memory_order_relaxed); }
void set_fused_swiglu(bool on) { fused_swiglu_flag().store(on, std::memory_order_relaxed); }

// The operands of gemv with y = [n, 2f] (what w produces) standing in for act = [n, f].
bool gemv_swiglu_supported(const Tensor& x, const Tensor& w, const Tensor& act) {
  if (!act.defined() || !w.defined() || act.ndim() != 2 || w.ndim() != 2 || w.dim(0) != 2 * act.dim(1)) return false;
  const Tensor as_product = Tensor::view(act.data(), act.dtype(), {act.dim(0), w.dim(0)}, act.device());
  return gemv_supported(x, w, as_product);
}

void gemv_swiglu(const Tensor& x, const Tensor& w, const Tensor& act, cudaStream_t stream) {
  constexpr const char* kOp = "cuda gemv_swiglu";
  GQA_CHECK(gemv_swiglu_supported(x, w, act), kOp << ": unsupported operands x " << shape_str(x.shape()) << " "
                                                  << dtype_name(x.dtype()) << ", w " << shape_str(w.shape()) << ", act "
                                                  << shape_str(act.shape()) << " " << dtype_name(act.dtype())
                                                  << " (gemv's rules, with w = [2f, k] and act = [n, f])");
  GQA_CHECK(!overlaps(act, x) && !overlaps(act, w), kOp << ": act " << shape_str(act.shape()) << " overlaps an input");
  if (x.dtype() == DType::kBF16) {
    launch<__nv_bfloat16, true>(x, w, act, stream);
  } else {
    launch<__half, true>(x, w, act, stream);
  }
}

}  // namespace gqa::cuda
