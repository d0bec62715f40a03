// CudaOps uploads: small ones are queued through the pinned ring without a sync, so the caller
// may overwrite its buffer at once; many of them wrap the ring; large ones go synchronously.
// Every value must arrive, in order, whatever the path.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_info.h"

namespace gqa {
namespace {

TEST(CudaUploads, SmallUploadsArriveAndWrapTheRing) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  cuda::CudaOps ops(0, DType::kBF16);
  // 600 uploads of 4 KB: more than the 1 MB ring holds, so it wraps several times.
  std::vector<Tensor> dst;
  std::vector<int32_t> src(1024);
  for (int i = 0; i < 600; ++i) {
    std::iota(src.begin(), src.end(), i * 1024);
    dst.push_back(ops.alloc(DType::kI32, {1024}));
    ops.upload_i32(src.data(), dst.back());
    std::fill(src.begin(), src.end(), -1);  // the caller reuses its buffer at once
  }
  for (int i = 0; i < 600; i += 37) {
    std::vector<float> back(1024);
    Tensor as_f32 = ops.alloc(DType::kF32, {1024});
    std::vector<float> f(1024);
    for (int j = 0; j < 1024; ++j) f[j] = static_cast<float>(i * 1024 + j);
    ops.upload_f32(f.data(), as_f32);
    ops.download_f32(as_f32, back.data());
    EXPECT_EQ(back, f) << "f32 upload " << i;
  }
  // i32 tensors have no download_f32; check them through a copy the host can read.
  for (int i = 0; i < 600; i += 53) {
    std::vector<int32_t> back(1024);
    GQA_CUDA_CHECK(cudaMemcpyAsync(back.data(), dst[i].data(), 4096, cudaMemcpyDeviceToHost, ops.cuda_stream()));
    ops.synchronize();
    for (int j = 0; j < 1024; ++j) ASSERT_EQ(back[j], i * 1024 + j) << "upload " << i << " element " << j;
  }
}

TEST(CudaUploads, LargeUploadGoesSynchronouslyAndConverts) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  cuda::CudaOps ops(0, DType::kBF16);
  std::vector<float> big(1 << 20);  // 2 MB as bf16: larger than half the ring
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i % 256);  // exact in bf16
  Tensor t = ops.alloc(DType::kBF16, {static_cast<int64_t>(big.size())});
  ops.upload_f32(big.data(), t);
  std::vector<float> back(big.size());
  ops.download_f32(t, back.data());
  EXPECT_EQ(back, big);
}

}  // namespace
}  // namespace gqa
