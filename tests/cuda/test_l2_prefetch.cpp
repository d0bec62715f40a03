// The L2 prefetch kernel (kernels/cuda/l2_prefetch.cu) on the GPU: it asks for lines only inside the
// weights (gpu-check runs this under compute-sanitizer too), leaves every byte as it was, and
// records into a CUDA graph; odd row sizes (a partial last line) and partly covered weights.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/l2_prefetch.h"
#include "kernels/cuda/pdl.h"

namespace gqa {
namespace {

class CudaL2Prefetch : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
    GQA_CUDA_CHECK(cudaStreamCreate(&stream_));
  }
  void TearDown() override {
    if (stream_) cudaStreamDestroy(stream_);  // (its status ignored: the test's checks are done)
  }
  cudaStream_t stream_ = nullptr;
};

TEST_F(CudaL2Prefetch, AsksForLinesInsideTheWeightsAndChangesNothing) {
  // Rows of 2000 bytes (a partial last line), 300 rows; a second weight of 77 rows x 4096 bytes.
  std::vector<uint8_t> a(300 * 2000), b(77 * 4096);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i * 7 + 1);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 13 + 5);
  void *da = nullptr, *db = nullptr;
  GQA_CUDA_CHECK(cudaMalloc(&da, a.size()));
  GQA_CUDA_CHECK(cudaMalloc(&db, b.size()));
  GQA_CUDA_CHECK(cudaMemcpy(da, a.data(), a.size(), cudaMemcpyHostToDevice));
  GQA_CUDA_CHECK(cudaMemcpy(db, b.data(), b.size(), cudaMemcpyHostToDevice));
  const std::vector<cuda::PrefetchWeight> list{{da, 300, 2000}, {db, 77, 4096}};
  for (bool pdl : {false, true}) {
    const cuda::ScopedSwitch s(cuda::pdl_enabled, cuda::set_pdl, pdl);
    for (int64_t budget : {int64_t(1) << 30, int64_t(300 * 2000 + 77 * 1024), int64_t(300 * 1000), int64_t(0)}) {
      cuda::l2_prefetch(list, budget, stream_);
    }
    // Recorded into a graph and replayed, as inside a decode step.
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    GQA_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    cuda::l2_prefetch(list, int64_t(1) << 30, stream_);
    GQA_CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
    GQA_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    GQA_CUDA_CHECK(cudaGraphLaunch(exec, stream_));
    GQA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    GQA_CUDA_CHECK(cudaGraphExecDestroy(exec));
    GQA_CUDA_CHECK(cudaGraphDestroy(graph));
  }
  std::vector<uint8_t> a2(a.size()), b2(b.size());
  GQA_CUDA_CHECK(cudaMemcpy(a2.data(), da, a.size(), cudaMemcpyDeviceToHost));
  GQA_CUDA_CHECK(cudaMemcpy(b2.data(), db, b.size(), cudaMemcpyDeviceToHost));
  EXPECT_EQ(a2, a);
  EXPECT_EQ(b2, b);
  GQA_CUDA_CHECK(cudaFree(da));
  GQA_CUDA_CHECK(cudaFree(db));
  EXPECT_GT(cuda::l2_prefetch_budget(), 0);
}

TEST_F(CudaL2Prefetch, RefusesTooManyWeightsAndMissingData) {
  char x = 0;
  const std::vector<cuda::PrefetchWeight> five(cuda::kMaxPrefetchWeights + 1, cuda::PrefetchWeight{&x, 1, 128});
  EXPECT_THROW(cuda::l2_prefetch(five, 1 << 20, stream_), Error);
  EXPECT_THROW(cuda::l2_prefetch({cuda::PrefetchWeight{nullptr, 4, 128}}, 1 << 20, stream_), Error);
}

}  // namespace
}  // namespace gqa
