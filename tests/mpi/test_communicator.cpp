// Communicator backends under mpirun -np 1, 2, 4. Every collective test runs on:
//   mpi          MpiCommunicator on MPI_COMM_WORLD
//   mpi_chunked  the same with 12-byte messages, so buffers go through the chunked paths
//   single       SingleCommunicator (rank 0 of 1 on every process): the T = 1 behaviour
// Expected values are computed from comm.rank()/size(), so one body checks all three.
#include <mpi.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "parallel/bootstrap.h"
#include "parallel/mpi_check.h"
#include "parallel/mpi_communicator.h"
#include "parallel/single_communicator.h"
#include "tests/support/expect_error.h"

namespace gqa {
namespace {

int world_size() {
  int n = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

class CommTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "single") {
      comm_ = std::make_unique<SingleCommunicator>();
    } else if (GetParam() == "mpi_chunked") {
      comm_ = std::make_unique<MpiCommunicator>(MPI_COMM_WORLD, MpiCommunicatorOptions{12});
    } else {
      comm_ = std::make_unique<MpiCommunicator>();
    }
  }
  Communicator& comm() { return *comm_; }

 private:
  std::unique_ptr<Communicator> comm_;
};

// Element i on rank r is (r + 1) * (i % 7 + 1): small integers, so sums are exact in bf16 too.
float value(int r, int64_t i) { return static_cast<float>((r + 1) * (i % 7 + 1)); }
float expected_sum(int size, int64_t i) { return static_cast<float>(size * (size + 1) / 2 * (i % 7 + 1)); }

TEST_P(CommTest, AllReduceSumF32) {
  Tensor t = Tensor::host(DType::kF32, {3, 11});
  for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = value(comm().rank(), i);
  comm().all_reduce_sum(t);
  for (int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(t.data_as<float>()[i], expected_sum(comm().size(), i)) << i;
}

TEST_P(CommTest, AllReduceSumHalfTypes) {
  for (DType d : {DType::kBF16, DType::kF16}) {
    SCOPED_TRACE(dtype_name(d));
    Tensor t = Tensor::host(d, {37});
    std::vector<float> src(37);
    for (int64_t i = 0; i < 37; ++i) src[i] = value(comm().rank(), i);
    convert_from_f32(src.data(), t.data(), d, src.size());
    comm().all_reduce_sum(t);
    std::vector<float> got(37);
    convert_to_f32(t.data(), d, got.data(), got.size());
    for (int64_t i = 0; i < 37; ++i) ASSERT_EQ(got[i], expected_sum(comm().size(), i)) << i;
  }
}

TEST_P(CommTest, AllReduceSumRefusesIntegers) {
  Tensor t = Tensor::host(DType::kI32, {4});
  EXPECT_THROW(comm().all_reduce_sum(t), Error);
}

TEST_P(CommTest, BroadcastFromFirstAndLastRank) {
  for (int root : {0, comm().size() - 1}) {
    std::vector<int32_t> buf(29);
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = comm().rank() == root ? int32_t(1000 * root + i) : -1;
    comm().broadcast(buf.data(), buf.size() * sizeof(int32_t), root);
    for (size_t i = 0; i < buf.size(); ++i) ASSERT_EQ(buf[i], int32_t(1000 * root + i)) << "root " << root;
  }
  int dummy = 0;
  EXPECT_THROW(comm().broadcast(&dummy, sizeof dummy, comm().size()), Error);
}

// Null data with bytes to send is refused by name on every backend, before any rank enters the
// collective; null with 0 bytes is a no-op. Found by mutation testing (dropping the check in
// MpiCommunicator passed every test).
TEST_P(CommTest, BroadcastRefusesNullData) {
  test::expect_error([&] { comm().broadcast(nullptr, 4, 0); }, "broadcast: null data for 4 bytes");
  EXPECT_NO_THROW(comm().broadcast(nullptr, 0, 0));
}

TEST_P(CommTest, AllGatherStacksRanks) {
  const int n = comm().size();
  Tensor in = Tensor::host(DType::kF32, {2, 5});
  for (int64_t i = 0; i < in.numel(); ++i) in.data_as<float>()[i] = 100.0f * comm().rank() + i;
  Tensor out = Tensor::host(DType::kF32, {n, 2, 5});
  comm().all_gather(in, out);
  for (int r = 0; r < n; ++r) {
    for (int64_t i = 0; i < 10; ++i) ASSERT_EQ(out.data_as<float>()[r * 10 + i], 100.0f * r + i) << r;
  }
}

TEST_P(CommTest, AllGatherInPlace) {
  const int n = comm().size();
  Tensor out = Tensor::host(DType::kBF16, {n, 9});
  Tensor mine = out.slice_rows(comm().rank(), comm().rank() + 1).reshape({9});
  for (int64_t i = 0; i < 9; ++i) mine.data_as<uint16_t>()[i] = f32_to_bf16(float(comm().rank() * 10 + i));
  comm().all_gather(mine, out);
  for (int r = 0; r < n; ++r) {
    for (int64_t i = 0; i < 9; ++i) ASSERT_EQ(bf16_to_f32(out.data_as<uint16_t>()[r * 9 + i]), float(r * 10 + i));
  }
}

TEST_P(CommTest, AllGatherChecksShape) {
  Tensor in = Tensor::host(DType::kF32, {4});
  Tensor wrong = Tensor::host(DType::kF32, {comm().size() + 1, 4});
  Tensor wrong_dtype = Tensor::host(DType::kF16, {comm().size(), 4});
  EXPECT_THROW(comm().all_gather(in, wrong), Error);
  EXPECT_THROW(comm().all_gather(in, wrong_dtype), Error);
}

TEST_P(CommTest, DeviceTensorsNeedTheCudaBuild) {
  float fake = 0;  // never dereferenced: the call must refuse before touching it
  Tensor t = Tensor::view(&fake, DType::kF32, {1}, Device::kCuda);
  Tensor out = Tensor::view(&fake, DType::kF32, {comm().size(), 1}, Device::kCuda);
  if (comm().name() != "single") {  // a sum over one rank needs no data movement
    try {
      comm().all_reduce_sum(t);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("CUDA build"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(comm().all_gather(t, out), Error);
}

TEST_P(CommTest, AllOkIsFalseEverywhereWhenOneRankFails) {
  EXPECT_TRUE(comm().all_ok(true));
  const int bad = comm().size() - 1;
  EXPECT_FALSE(comm().all_ok(comm().rank() != bad));
  EXPECT_FALSE(comm().all_ok(false));
}

// Rank 0 reaches the second barrier 200 ms after the first: no other rank leaves it sooner than
// ~200 ms after leaving the first (a barrier that returned at once would fail here).
TEST_P(CommTest, BarrierWaitsForTheLastRank) {
  comm().barrier();
  const auto start = std::chrono::steady_clock::now();
  if (comm().rank() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  comm().barrier();
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (comm().rank() != 0) {
    EXPECT_GE(waited, 0.15) << "rank " << comm().rank() << " left the barrier early";
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, CommTest, ::testing::Values("mpi", "mpi_chunked", "single"),
                         [](const auto& info) { return info.param; });

TEST(MpiCommunicator, RanksMatchWorld) {
  MpiCommunicator comm;
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  EXPECT_EQ(comm.rank(), rank);
  EXPECT_EQ(comm.size(), world_size());
  EXPECT_EQ(comm.name(), "mpi");
}

TEST(MpiCommunicator, SubCommunicatorReducesWithinItsGroup) {
  if (world_size() < 2) GTEST_SKIP() << "needs at least 2 ranks";
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm half = MPI_COMM_NULL;
  ASSERT_EQ(MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half), MPI_SUCCESS);
  {
    MpiCommunicator comm(half);
    Tensor t = Tensor::host(DType::kF32, {1});
    t.data_as<float>()[0] = static_cast<float>(rank);
    comm.all_reduce_sum(t);
    float want = 0;
    for (int r = rank % 2; r < world_size(); r += 2) want += static_cast<float>(r);
    EXPECT_EQ(t.data_as<float>()[0], want);
  }
  MPI_Comm_free(&half);
}

// A message size under one float is taken as 4 bytes: all_reduce_sum's chunks are whole floats,
// and a chunk of 0 floats would never advance. Found by mutation testing (clamping to 1 byte
// passed every test, and hangs the reduction).
TEST(MpiCommunicator, MessageSizesUnderAFloatStillReduce) {
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{3}}) {
    MpiCommunicator comm(MPI_COMM_WORLD, MpiCommunicatorOptions{bytes});
    Tensor t = Tensor::host(DType::kF32, {5});
    for (int64_t i = 0; i < 5; ++i) t.data_as<float>()[i] = value(comm.rank(), i);
    comm.all_reduce_sum(t);
    for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(t.data_as<float>()[i], expected_sum(comm.size(), i)) << bytes;
  }
}

int fake_mpi_call() { return MPI_ERR_ROOT; }

TEST(MpiCheck, ErrorNamesCallMessageAndLocation) {
  try {
    GQA_MPI_CHECK(fake_mpi_call());
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("fake_mpi_call()"), std::string::npos) << msg;
    EXPECT_NE(msg.find("root"), std::string::npos) << msg;  // MPI_Error_string text
    EXPECT_NE(msg.find("test_communicator.cpp:"), std::string::npos) << msg;
  }
}

TEST(MpiCheck, RealFailureOnErrorsReturnCommThrows) {
  MpiCommunicator comm;  // its dup has MPI_ERRORS_RETURN
  int x = 0;
  try {
    GQA_MPI_CHECK(MPI_Bcast(&x, -1, MPI_INT, 0, comm.comm()));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("MPI_Bcast(&x, -1, MPI_INT, 0, comm.comm()) failed"),
              std::string::npos)
        << e.what();
  }
}

TEST(MakeCommunicator, ChoosesByKind) {
  const int n = world_size();
  auto a = make_communicator("auto");
  EXPECT_EQ(a->name(), n > 1 ? "mpi" : "single");
  EXPECT_EQ(a->size(), n);
  EXPECT_EQ(make_communicator("mpi")->size(), n);
  if (n == 1) {
    EXPECT_EQ(make_communicator("single")->name(), "single");
  } else {
    EXPECT_THROW(make_communicator("single"), Error);
  }
  try {
    make_communicator("nccl");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("use --comm mpi"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_communicator("gloo"), Error);
}

TEST(MpiSession, LocalRankIsWithinNode) {
  MpiSession nested;  // MPI is already up: this must neither re-init nor finalize it
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  EXPECT_EQ(nested.world_rank(), rank);
  EXPECT_EQ(nested.world_size(), world_size());
  EXPECT_GE(nested.local_rank(), 0);
  EXPECT_LT(nested.local_rank(), nested.local_size());
  EXPECT_LE(nested.local_size(), world_size());
}

}  // namespace
}  // namespace gqa
