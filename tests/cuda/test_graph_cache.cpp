// CUDA graphs (kernels/cuda/graph_cache.h, CudaOps::run_graph): a key runs directly once (a
// warm-up), is recorded at its second run and then replayed; a replay reads the device buffers as they are at launch (inputs uploaded before
// run_graph), never values baked in at recording; an upload while recording is refused (its
// pinned staging slot would be re-read, stale, at every replay); a failed recording leaves no
// entry and the stream usable, so the same key records cleanly afterwards; recorded_shape counts a
// recording's kernels and tells different kernels apart.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/graph_cache.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/support/expect_error.h"

namespace gqa {
namespace {

class CudaGraphs : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
    ops_ = std::make_unique<cuda::CudaOps>(0, DType::kF32);
    if (!ops_->supports_graphs()) GTEST_SKIP() << "graphs are off under GQA_CUDA_SYNC_DEBUG";
  }
  std::unique_ptr<cuda::CudaOps> ops_;
};

TEST_F(CudaGraphs, RecordsOnceAndReplaysCurrentInputs) {
  const int64_t n = 3, d = 40;
  Tensor x = ops_->alloc(DType::kF32, {n, d}), y = ops_->alloc(DType::kF32, {n, d});
  cuda::GraphCache graphs;
  int recorded = 0;
  for (int step = 0; step < 4; ++step) {
    std::vector<float> xv = test::random_vec(n * d, 500 + step), yv = test::random_vec(n * d, 600 + step);
    ops_->upload_f32(xv.data(), x);  // before run: the replay must see this step's values
    ops_->upload_f32(yv.data(), y);
    graphs.run("add", ops_->cuda_stream(), [&] {
      ++recorded;
      ops_->add(x, y);
    });
    std::vector<float> want(n * d);
    for (size_t i = 0; i < want.size(); ++i) want[i] = yv[i] + xv[i];
    EXPECT_EQ(test::to_host(*ops_, y), want) << "step " << step;
  }
  EXPECT_EQ(recorded, 2);  // the direct warm-up, then the recording; steps 2 and 3 replay
  EXPECT_EQ(graphs.size(), 1u);
}

// recorded_shape (with set_note_shapes): the kernel nodes of the graphs recorded since clear(), and a
// fingerprint that tells a graph of other kernels apart (add then add, against add then swiglu), and
// of the same kernels over other grids (a wider second add).
TEST_F(CudaGraphs, RecordedShapeCountsKernelsAndTellsKernelsApart) {
  const int64_t n = 2, d = 32;
  Tensor x = ops_->alloc(DType::kF32, {n, d}), y = ops_->alloc(DType::kF32, {n, d}),
         gu = ops_->alloc(DType::kF32, {n, 2 * d}), z = ops_->alloc(DType::kF32, {n, d});
  // (wide: x and y of 2 x 65536, so the second add's grid is another than the first's)
  Tensor wx = ops_->alloc(DType::kF32, {n, 65536}), wy = ops_->alloc(DType::kF32, {n, 65536});
  const auto record = [&](cuda::GraphCache& graphs, bool second_add, bool wide = false) {
    for (int run = 0; run < 2; ++run) {  // the warm-up, then the recording
      graphs.run("step", ops_->cuda_stream(), [&] {
        ops_->add(x, y);
        if (second_add) {
          ops_->add(wide ? wx : x, wide ? wy : y);
        } else {
          ops_->swiglu({gu, z});
        }
      });
    }
  };
  cuda::GraphCache a, b, c, w, off;
  for (cuda::GraphCache* g : {&a, &b, &c, &w}) g->set_note_shapes(true);
  EXPECT_EQ(a.recorded_shape().kernels, 0u);
  record(a, true);
  record(b, true);
  record(c, false);
  record(w, true, /*wide=*/true);
  record(off, true);
  ops_->synchronize();
  EXPECT_EQ(off.recorded_shape().kernels, 0u);  // (not noted: the default)
  EXPECT_EQ(a.recorded_shape().kernels, 2u);
  EXPECT_EQ(c.recorded_shape().kernels, 2u);
  // (add and swiglu are launched with programmatic dependent launch, as the decode step's kernels:
  // gqa-bench says "n/a" only where the runtime names every such node)
  EXPECT_EQ(a.recorded_shape().unnamed, 0u);
  EXPECT_EQ(c.recorded_shape().unnamed, 0u);
  EXPECT_EQ(a.recorded_shape().fingerprint, b.recorded_shape().fingerprint);  // the same kernels
  EXPECT_NE(a.recorded_shape().fingerprint, c.recorded_shape().fingerprint);
  EXPECT_EQ(w.recorded_shape().kernels, 2u);
  EXPECT_NE(a.recorded_shape().fingerprint, w.recorded_shape().fingerprint);  // the same kernels, another grid
  a.clear();
  EXPECT_EQ(a.recorded_shape().kernels, 0u);
}

TEST_F(CudaGraphs, UploadWhileRecordingIsRefusedAndTheKeyRecordsLater) {
  const int64_t n = 2, d = 16;
  Tensor x = ops_->alloc(DType::kF32, {n, d}), y = ops_->alloc(DType::kF32, {n, d});
  std::vector<float> xv = test::random_vec(n * d, 700), yv(n * d, 0.0f);
  ops_->run_graph("step", [&] { ops_->upload_f32(xv.data(), x); });  // the warm-up runs directly: allowed
  test::expect_error([&] { ops_->run_graph("step", [&] { ops_->upload_f32(xv.data(), x); }); },
                     "upload before run_graph");
  // The failed recording ended the capture: the stream takes ordinary work and the same key again.
  ops_->upload_f32(xv.data(), x);
  ops_->upload_f32(yv.data(), y);
  ops_->run_graph("step", [&] { ops_->add(x, y); });  // recorded and launched: y = x
  EXPECT_EQ(test::to_host(*ops_, y), xv);
  ops_->run_graph("step", [&] { ADD_FAILURE() << "recorded twice"; });  // replays: y = 2 x
  std::vector<float> twice(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) twice[i] = 2.0f * xv[i];
  EXPECT_EQ(test::to_host(*ops_, y), twice);
}

TEST_F(CudaGraphs, FailedRecordingLeavesNoEntry) {
  Tensor x = ops_->alloc(DType::kF32, {8}), y = ops_->alloc(DType::kF32, {8});
  const Tensor wrong = ops_->alloc(DType::kF32, {9});  // allocated outside the recording
  cuda::GraphCache graphs;
  graphs.run("k", ops_->cuda_stream(), [&] { ops_->add(x, y); });  // the warm-up: direct, no graph
  EXPECT_EQ(graphs.size(), 0u);
  EXPECT_THROW(graphs.run("k", ops_->cuda_stream(),
                          [&] {
                            ops_->add(x, y);
                            GQA_FAIL("bad step");
                          }),
               Error);
  EXPECT_EQ(graphs.size(), 0u);
  // A host-side check failing inside the recording (here: a shape mismatch) behaves the same.
  EXPECT_THROW(graphs.run("k", ops_->cuda_stream(), [&] { ops_->add(x, wrong); }), Error);
  EXPECT_EQ(graphs.size(), 0u);
  std::vector<float> ones(8, 1.0f), zeros(8, 0.0f);
  ops_->upload_f32(ones.data(), x);
  ops_->upload_f32(zeros.data(), y);
  graphs.run("k", ops_->cuda_stream(), [&] { ops_->add(x, y); });
  EXPECT_EQ(graphs.size(), 1u);
  EXPECT_EQ(test::to_host(*ops_, y), ones);
}

}  // namespace
}  // namespace gqa
