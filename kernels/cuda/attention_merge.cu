// One block per query row and 32 of its dims (HD / 32 blocks a row; one for hd 16); thread = (4
// dims, split group): each thread merges its group's splits into a SoftmaxState, loading kBatch
// splits before merging any (merge_splits, attention_merge.cuh: the arithmetic the decode
// kernel's fused merge shares), then the groups' states merge in a tree through shared memory
// (log2(groups) rounds of one barrier each, instead of group 0 merging the others one by one) and
// group 0 stores the normalised result. 8 lanes (4 for hd 16) x 32 groups (64): 256 threads.
// (One 1024-thread block per row, as before, put a batch-1 decode's merge on 8 SMs, 64 KB of
// partials each at 128 splits: ~5.7 us of SM time under ncu on an H200, run 4.)
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_merge.h"
#include "kernels/cuda/attention_merge.cuh"
#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/pdl.cuh"

namespace gqa::cuda {
namespace {

using namespace attn;

constexpr const char* kOp = "cuda attention_merge";

template <int HD>
struct MergeShape {
  static constexpr int kLanes = HD / 4 < 8 ? HD / 4 : 8;  // threads covering a block's dims, 4 each
  static constexpr int kChunks = HD / (4 * kLanes);        // blocks per row
  static constexpr int kGroups = 256 / kLanes;
  static constexpr int kThreads = kLanes * kGroups;
  static_assert(HD % (4 * kLanes) == 0 && kThreads == 256, "merge block shape");
};

template <typename T, int HD, bool kEarly>
__global__ void __launch_bounds__(MergeShape<HD>::kThreads) merge_kernel(const float* part_o, const float* part_lse,
                                                                         T* out, int num_splits) {
  pdl_wait_early<kEarly>();
  constexpr int kLanes = MergeShape<HD>::kLanes, kGroups = MergeShape<HD>::kGroups;
  constexpr int kChunks = MergeShape<HD>::kChunks;
  constexpr int kBatch = 8;  // splits a thread loads before merging them: 256 splits in one round trip
  static_assert((kGroups & (kGroups - 1)) == 0, "the tree merges groups in pairs");
  // Round r of the tree (r = 0, 1, ...: half = kGroups / 2, / 4, ..., 1) publishes groups
  // [half, 2 half)'s states at entries [kGroups - 2 half, kGroups - half): kGroups - 1 in all, so
  // no round overwrites an entry a slower thread of the previous round may still read.
  __shared__ float4 o_s[kGroups][kLanes];
  __shared__ float m_s[kGroups][kLanes], d_s[kGroups][kLanes];
  const size_t row = blockIdx.x / kChunks;
  const int lane = threadIdx.x % kLanes, grp = threadIdx.x / kLanes;
  const int dim = (static_cast<int>(blockIdx.x % kChunks) * kLanes + lane) * 4;  // this thread's 4 dims
  SoftmaxState<4> st;
  st.init();
  merge_splits<HD, kBatch>(part_o + row * num_splits * HD + dim, part_lse + row * num_splits, grp, kGroups,
                           num_splits, st);
  int base = 0;
#pragma unroll
  for (int half = kGroups / 2; half > 0; half /= 2) {
    if (grp >= half && grp < 2 * half) {
      o_s[base + grp - half][lane] = make_float4(st.o[0], st.o[1], st.o[2], st.o[3]);
      m_s[base + grp - half][lane] = st.m;
      d_s[base + grp - half][lane] = st.d;
    }
    __syncthreads();
    if (grp < half) {
      const float4 o = o_s[base + grp][lane];
      const float o2[4] = {o.x, o.y, o.z, o.w};
      st.merge(o2, m_s[base + grp][lane], d_s[base + grp][lane]);
    }
    base += half;
  }
  if (grp == 0) store_merged<T>(st, out + row * HD + dim);
}

template <typename T, int HD>
void launch(const AttentionMergeArgs& a, cudaStream_t stream) {
  const int64_t rows = a.part_o.dim(0);
  if (rows == 0) return;
  launch_pdl("attention merge_kernel", pdl_early_enabled() ? merge_kernel<T, HD, true> : merge_kernel<T, HD, false>,
             static_cast<unsigned>(rows * MergeShape<HD>::kChunks),
             MergeShape<HD>::kThreads, 0, stream, a.part_o.data_as<float>(), a.part_lse.data_as<float>(),
             a.out.data_as<T>(), static_cast<int>(a.part_o.dim(1)));
}

}  // namespace

void attention_merge(const AttentionMergeArgs& a, cudaStream_t stream) {
  detail::expect_ndim(a.part_o, 3, kOp, "part_o");
  const int64_t rows = a.part_o.dim(0), splits = a.part_o.dim(1), hd = a.part_o.dim(2);
  detail::expect(a.part_o, DType::kF32, a.part_o.shape(), kOp, "part_o");
  detail::expect(a.part_lse, DType::kF32, {rows, splits}, kOp, "part_lse");
  detail::expect_ndim(a.out, 2, kOp, "out");
  detail::expect_float(a.out, kOp, "out");
  detail::expect(a.out, a.out.dtype(), {rows, hd}, kOp, "out");
  GQA_CHECK(splits >= 1 && splits <= INT32_MAX, kOp << ": " << splits << " splits in part_o " << shape_str(a.part_o.shape()));
  GQA_CHECK(rows <= INT32_MAX / 4, kOp << ": " << rows << " rows exceed the grid (up to 4 blocks a row)");
  GQA_CHECK(reinterpret_cast<uintptr_t>(a.part_o.data()) % 16 == 0, kOp << ": part_o must be 16-byte aligned");
  GQA_ATTN_DISPATCH_DTYPE(a.out.dtype(), kOp, T, GQA_ATTN_DISPATCH_HEAD_DIM(hd, kOp, HD, launch<T, HD>(a, stream);))
}

}  // namespace gqa::cuda
