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
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/gemv_launch.cuh"
#include "kernels/cuda/gemv_maps.cuh"

namespace gqa::cuda {
namespace {

using namespace gemv_detail;

template <typename T, int N, bool kSwiGlu>
void launch_n(const Tensor& x, const Tensor& w, const Tensor& y, int m, int k, cudaStream_t stream,
              const AddRmsNormArgs* norm) {
  if constexpr (kSwiGlu) {
    const SwiGluRows<T> map{y.data_as<T>(), m / 2};
    if constexpr (N <= kGemvNormMaxRows) {
      if (norm != nullptr) {
        return launch_gemv<T, N, SwiGluRows<T>, true>("gemv_kernel (norm + swiglu)", x.data_as<const T>(),
                                                       w.data_as<const T>(), map, m, k, stream, norm_in<T>(*norm));
      }
    }
    launch_gemv<T, N>("gemv_kernel (swiglu)", x.data_as<const T>(), w.data_as<const T>(), map, m, k, stream);
  } else {
    launch_gemv<T, N>("gemv_kernel", x.data_as<const T>(), w.data_as<const T>(), PlainRows<T>{y.data_as<T>(), m}, m,
                      k, stream);
  }
}

template <typename T, bool kSwiGlu>
void launch(const Tensor& x, const Tensor& w, const Tensor& y, cudaStream_t stream,
            const AddRmsNormArgs* norm = nullptr) {
  const int n = static_cast<int>(x.dim(0)), m = static_cast<int>(w.dim(0)), k = static_cast<int>(x.dim(1));
  with_rows(n, "cuda gemv",
            [&](auto rows) { launch_n<T, decltype(rows)::value, kSwiGlu>(x, w, y, m, k, stream, norm); });
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

GQA_PROCESS_SWITCH(fused_swiglu_enabled, set_fused_swiglu, "GQA_FUSED_SWIGLU", true)

GQA_PROCESS_SWITCH(gemv_bulk_enabled, set_gemv_bulk, "GQA_GEMV_BULK", true)
GQA_PROCESS_SWITCH(gemv_ring_enabled, set_gemv_ring, "GQA_GEMV_RING", false)

namespace {
std::atomic<int> g_tuned_group_warps{0};
std::atomic<bool> g_tuned_deep{false};
std::atomic<bool> g_tuned_bulk{false};
std::atomic<bool> g_tuned_no_budget{false};
std::atomic<bool> g_tuned_per_thread{false};
std::atomic<bool> g_tuned_ring{false};
}  // namespace

GemvTuning gemv_tuning() {
  return {g_tuned_group_warps.load(), g_tuned_deep.load(), g_tuned_bulk.load(), g_tuned_no_budget.load(),
          g_tuned_per_thread.load(), g_tuned_ring.load()};
}

void set_gemv_tuning(const GemvTuning& t) {
  GQA_CHECK(t.group_warps == 0 || t.group_warps == 1 || t.group_warps == 2 || t.group_warps == 4 ||
                t.group_warps == gemv_detail::kWarps,
            "set_gemv_tuning: group_warps " << t.group_warps << " (0 = the plan, or 1, 2, 4, 8)");
  g_tuned_group_warps.store(t.group_warps);
  g_tuned_deep.store(t.deep);
  g_tuned_bulk.store(t.bulk);
  g_tuned_no_budget.store(t.no_budget);
  g_tuned_per_thread.store(t.per_thread);
  g_tuned_ring.store(t.ring);
}

// The operands of gemv with y = [n, 2f] (what w produces) standing in for act = [n, f].
bool gemv_swiglu_supported(const Tensor& x, const Tensor& w, const Tensor& act) {
  if (!act.defined() || !w.defined() || act.ndim() != 2 || w.ndim() != 2 || w.dim(0) != 2 * act.dim(1)) return false;
  const Tensor as_product = Tensor::view(act.data(), act.dtype(), {act.dim(0), w.dim(0)}, act.device());
  return gemv_supported(x, w, as_product);
}

void gemv_swiglu(const Tensor& x, const Tensor& w, const Tensor& act, cudaStream_t stream,
                 const AddRmsNormArgs* norm) {
  constexpr const char* kOp = "cuda gemv_swiglu";
  if (norm != nullptr) check_gemv_norm_call(kOp, *norm, x, w, {act}, {});
  GQA_CHECK(gemv_swiglu_supported(x, w, act), kOp << ": unsupported operands x " << shape_str(x.shape()) << " "
                                                  << dtype_name(x.dtype()) << ", w " << shape_str(w.shape()) << ", act "
                                                  << shape_str(act.shape()) << " " << dtype_name(act.dtype())
                                                  << " (gemv's rules, with w = [2f, k] and act = [n, f])");
  GQA_CHECK(!overlaps(act, x) && !overlaps(act, w), kOp << ": act " << shape_str(act.shape()) << " overlaps an input");
  if (x.dtype() == DType::kBF16) {
    launch<__nv_bfloat16, true>(x, w, act, stream, norm);
  } else {
    launch<__half, true>(x, w, act, stream, norm);
  }
}

GQA_PROCESS_SWITCH(fused_norm_enabled, set_fused_norm, "GQA_FUSED_NORM", false)

bool gemv_norm_supported(const AddRmsNormArgs& norm, const Tensor& x) {
  if (!x.defined() || x.ndim() != 2 || !norm.x.defined() || !norm.weight.defined() || !norm.out.defined()) return false;
  const int64_t n = x.dim(0), k = x.dim(1);
  const auto like_x = [&](const Tensor& t) {
    return t.device() == Device::kCuda && t.dtype() == x.dtype() && t.shape() == x.shape() && aligned16(t.data());
  };
  if (norm.out.data() != x.data() || norm.out.shape() != x.shape() || norm.out.dtype() != x.dtype()) return false;
  if (!like_x(norm.x) || norm.weight.device() != Device::kCuda || norm.weight.dtype() != x.dtype() ||
      norm.weight.shape() != Shape{k} || !aligned16(norm.weight.data())) {
    return false;
  }
  if (norm.residual.defined() != norm.x_out.defined()) return false;
  if (norm.residual.defined()) {
    if (!like_x(norm.residual) || !like_x(norm.x_out)) return false;
    if (overlaps(norm.x_out, norm.x) || overlaps(norm.x_out, norm.residual) || overlaps(norm.x_out, norm.weight)) {
      return false;
    }
  }
  return n >= 1 && n <= kGemvNormMaxRows && k % 8 == 0 &&
         n * k * static_cast<int64_t>(dtype_size(x.dtype())) <= kGemvNormMaxBytes;
}

bool gemv_norm_serves(const AddRmsNormArgs& norm, const Tensor& x, const Tensor& w, const std::vector<Tensor>& outputs,
                      const std::vector<Tensor>& inputs) {
  if (!gemv_norm_supported(norm, x)) return false;
  if (norm.x_out.defined()) {
    if (overlaps(norm.x_out, norm.out) || overlaps(norm.x_out, w)) return false;
    for (const Tensor& in : inputs) {
      if (in.defined() && overlaps(norm.x_out, in)) return false;
    }
  }
  for (const Tensor& out : outputs) {
    for (const Tensor* in : {&norm.x, &norm.residual, &norm.weight, &norm.x_out}) {
      if (in->defined() && overlaps(*in, out)) return false;
    }
  }
  return true;
}

void check_gemv_norm_call(const char* op, const AddRmsNormArgs& norm, const Tensor& x, const Tensor& w,
                          const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs) {
  GQA_CHECK(gemv_norm_serves(norm, x, w, outputs, inputs),
            op << ": unsupported norm prologue: x " << shape_str(norm.x.shape()) << ", residual "
               << shape_str(norm.residual.shape()) << ", weight " << shape_str(norm.weight.shape()) << ", x_out "
               << shape_str(norm.x_out.shape()) << " for the GEMV input " << shape_str(x.shape()) << " "
               << dtype_name(x.dtype()) << " (needs norm.out to be that input, device tensors of its dtype, "
               << "x_out exactly with a residual and apart from x, residual, weight, the GEMV's input, W and "
               << "what its epilogue reads, outputs apart from the norm's tensors, 16-byte alignment, at most "
               << kGemvNormMaxRows << " rows and " << kGemvNormMaxBytes << " bytes of rows)");
}

}  // namespace gqa::cuda
