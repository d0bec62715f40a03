// The GPU communicators on device tensors, at T = 1, 2, 4 (CTest runs this under mpirun):
// all_reduce_sum (f32, f16, bf16) and all_gather on the backend's stream, through
// make_communicator_for(kind, "cuda"): "mpi" (host-staged, ranks may share a GPU), "nccl" (one GPU
// per rank) and "auto". The values are small integers, so every sum is exact in every dtype.
// Skips on every rank together unless every rank sees a GPU (always, in a build without CUDA).
#include <gtest/gtest.h>

#include "parallel/bootstrap.h"
#include "parallel/mpi_communicator.h"
#include "runtime/backend.h"
#include "runtime/communicator_factory.h"
#include "tests/mpi/cuda_skip.h"

namespace gqa {
namespace {

using test::cuda_skip_reason;

class CudaComm : public ::testing::TestWithParam<std::tuple<std::string, DType>> {
 protected:
  void SetUp() override {
    const std::string why = cuda_skip_reason(std::get<0>(GetParam()), session_);
    if (!why.empty()) GTEST_SKIP() << why;
    comm_ = make_communicator_for(std::get<0>(GetParam()), "cuda", session_);
    ops_ = make_backend("cuda", session_.local_rank(), DType::kF32);
  }
  MpiSession session_;
  std::unique_ptr<Communicator> comm_;
  std::unique_ptr<Ops> ops_;
};

TEST_P(CudaComm, AllReduceSumsDeviceTensorsInPlace) {
  const DType dt = std::get<1>(GetParam());
  const int r = comm_->rank(), t = comm_->size();
  std::vector<float> v(10 * 123);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 7) - 3.0f + r;
  Tensor d = ops_->alloc(dt, {10, 123});
  ops_->upload_f32(v.data(), d);
  comm_->all_reduce_sum(d, ops_->stream());
  std::vector<float> got(v.size());
  ops_->download_f32(d, got.data());
  for (size_t i = 0; i < v.size(); ++i) {
    const float want = t * (static_cast<float>(i % 7) - 3.0f) + t * (t - 1) / 2.0f;
    ASSERT_EQ(got[i], want) << "element " << i << " on rank " << r;
  }
}

TEST_P(CudaComm, AllGatherDeviceTensors) {
  const DType dt = std::get<1>(GetParam());
  const int r = comm_->rank(), t = comm_->size();
  std::vector<float> v(3 * 5);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(r * 20 + static_cast<int>(i));
  Tensor in = ops_->alloc(dt, {3, 5});
  ops_->upload_f32(v.data(), in);
  Tensor out = ops_->alloc(dt, {t, 3, 5});
  comm_->all_gather(in, out, ops_->stream());
  std::vector<float> got(static_cast<size_t>(t) * v.size());
  ops_->download_f32(out, got.data());
  for (int q = 0; q < t; ++q) {
    for (size_t i = 0; i < v.size(); ++i) {
      ASSERT_EQ(got[q * v.size() + i], static_cast<float>(q * 20 + static_cast<int>(i))) << "from rank " << q;
    }
  }
}

TEST_P(CudaComm, HostTensorsStillWork) {
  const int t = comm_->size();
  std::vector<float> v(64, 1.5f);
  Tensor h = Tensor::view(v.data(), DType::kF32, {64});
  comm_->all_reduce_sum(h, nullptr);
  for (float x : v) ASSERT_EQ(x, 1.5f * t);
  int token = comm_->rank() == 0 ? 42 : -1;
  comm_->broadcast(&token, sizeof(token), 0);
  EXPECT_EQ(token, 42);
  EXPECT_TRUE(comm_->all_ok(true));
}

INSTANTIATE_TEST_SUITE_P(Kinds, CudaComm,
                         ::testing::Combine(::testing::Values("mpi", "nccl", "auto"),
                                            ::testing::Values(DType::kF32, DType::kF16, DType::kBF16)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param)) + "_" + dtype_name(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace gqa
