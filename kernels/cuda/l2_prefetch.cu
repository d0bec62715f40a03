// L2 prefetch of the weights the next ops read (see l2_prefetch.h).
#include "kernels/cuda/l2_prefetch.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/stream_loads.cuh"

namespace gqa::cuda {
namespace {

constexpr const char* kOp = "cuda l2_prefetch";
constexpr int64_t kLine = 128;  // bytes per request: prefetch.global.L2 asks for the 128-byte line holding its address
constexpr int kThreads = 256;

struct PrefetchList {
  const char* ptr[kMaxPrefetchWeights];
  int64_t row_bytes[kMaxPrefetchWeights];
  int64_t lines_per_row[kMaxPrefetchWeights];  // lines of each row to ask for (from the plan)
  int64_t first_line[kMaxPrefetchWeights + 1];  // prefix sums of rows * lines_per_row
  int n = 0;
};

// Thread i of the grid asks for lines i, i + grid, ... of the concatenated list. pdl_wait first:
// the kernel starts when its predecessor has finished, so its requests compete with nothing but
// the successor, which may launch as soon as this kernel has begun.
__global__ void __launch_bounds__(kThreads) l2_prefetch_kernel(const PrefetchList l) {
  pdl_wait();
  const int64_t total = l.first_line[l.n];
  for (int64_t line = int64_t(blockIdx.x) * kThreads + threadIdx.x; line < total; line += int64_t(gridDim.x) * kThreads) {
    int w = 0;
    while (line >= l.first_line[w + 1]) ++w;
    const int64_t local = line - l.first_line[w];
    const int64_t row = local / l.lines_per_row[w], part = local % l.lines_per_row[w];
    prefetch_l2(l.ptr[w] + row * l.row_bytes[w] + part * kLine);
  }
}

}  // namespace

GQA_PROCESS_SWITCH(l2_prefetch_enabled, set_l2_prefetch, "GQA_L2_PREFETCH", false)

std::vector<int64_t> l2_prefetch_plan(const std::vector<PrefetchWeight>& weights, int64_t budget) {
  GQA_CHECK(budget >= 0, kOp << ": negative budget " << budget);
  std::vector<int64_t> per_row(weights.size(), 0);
  int64_t left = budget;
  for (size_t i = 0; i < weights.size(); ++i) {
    const PrefetchWeight& w = weights[i];
    GQA_CHECK(w.rows >= 0 && w.row_bytes >= 0, kOp << ": weight " << i << " has " << w.rows << " rows of "
                                                    << w.row_bytes << " bytes");
    if (w.rows == 0 || w.row_bytes == 0) continue;
    const int64_t bytes = w.rows * w.row_bytes;
    if (bytes <= left) {
      per_row[i] = w.row_bytes;
      left -= bytes;
      continue;
    }
    per_row[i] = std::min(w.row_bytes, left / w.rows / kLine * kLine);  // whole lines of every row
    break;
  }
  return per_row;
}

int64_t l2_prefetch_budget() { return int64_t(current_l2_bytes()) / 2; }

void l2_prefetch(const std::vector<PrefetchWeight>& weights, int64_t budget, cudaStream_t stream) {
  GQA_CHECK(weights.size() <= size_t(kMaxPrefetchWeights),
            kOp << ": " << weights.size() << " weights, at most " << kMaxPrefetchWeights);
  const std::vector<int64_t> per_row = l2_prefetch_plan(weights, budget);
  PrefetchList l;
  l.first_line[0] = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    const PrefetchWeight& w = weights[i];
    if (per_row[i] == 0) continue;
    GQA_CHECK(w.ptr != nullptr, kOp << ": weight " << i << " has no data");
    const char* p = static_cast<const char*>(w.ptr);
    int64_t rows = 0;  // rows of the entry, each lines_per_row lines
    if (per_row[i] == w.row_bytes) {
      // Whole: one range of lines from the 128-byte line holding its first byte to the one holding
      // its last (rows need not start on a line).
      const uintptr_t base = reinterpret_cast<uintptr_t>(p) / kLine * kLine;
      const int64_t bytes = w.rows * w.row_bytes + static_cast<int64_t>(reinterpret_cast<uintptr_t>(p) - base);
      l.ptr[l.n] = reinterpret_cast<const char*>(base);
      rows = 1;
      l.row_bytes[l.n] = bytes;
      l.lines_per_row[l.n] = (bytes + kLine - 1) / kLine;
    } else {  // the leading lines of every row (each row's own offsets: whole lines of the budget)
      l.ptr[l.n] = p;
      rows = w.rows;
      l.row_bytes[l.n] = w.row_bytes;
      l.lines_per_row[l.n] = per_row[i] / kLine;  // (a multiple of kLine below row_bytes)
    }
    l.first_line[l.n + 1] = l.first_line[l.n] + rows * l.lines_per_row[l.n];
    ++l.n;
  }
  if (l.n == 0) return;
  // At most a few lines per thread: one block per SM keeps every SM's share small.
  const int64_t total = l.first_line[l.n];
  const int64_t blocks = std::clamp<int64_t>((total + kThreads - 1) / kThreads, 1, current_sm_count());
  launch_pdl("l2_prefetch_kernel", l2_prefetch_kernel, static_cast<unsigned>(blocks), kThreads, 0, stream, l);
}

}  // namespace gqa::cuda
