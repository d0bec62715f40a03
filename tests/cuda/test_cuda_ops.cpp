// Every CUDA op of CudaOps against its CPU twin (kernels/cpu/cpu_kernels.h) on random inputs, in
// f32, f16 and bf16. Inputs are rounded to the dtype on the host before the CPU reference runs;
// outputs are poisoned with 0xff bytes (NaN) first, so an element the kernel skips fails; the
// check is the relative error ||out - ref|| / ||ref|| over every element (NaN never passes):
// f32 < 1e-5 (matmul < 1e-4), f16/bf16 < 1e-2.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/gemm.h"
#include "tests/cuda/attention_test_batch.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/cuda/dtype_ops_test.h"

namespace gqa {
namespace {

using test::rel_error;
using test::round_to;
using test::tolerance;

using test::host_view;
using test::host_view_i32;

class CudaOpsTest : public test::CudaDtypeOpsTest {
 protected:
  Tensor poisoned(Shape shape) { return test::poisoned(*gpu_, dt_, std::move(shape)); }
  // The matmul cases through `run`, against the CPU reference (defined with the Matmul tests).
  void check_matmul_cases(const std::function<void(const MatmulArgs&)>& run);
};

// Widths: 96 (16-byte accesses), 99 (element-wise), 8200 (16-byte accesses, more than one round
// of loads per thread).
TEST_P(CudaOpsTest, Embedding) {
  for (int64_t d : {96, 99, 8200}) {
    const int64_t vocab_local = 50, begin = 10;
    std::vector<float> table = input(vocab_local * d, 1);
    std::vector<int32_t> ids = {10, 5, 59, 60, 33, 1000, 11, 10};  // in and out of this rank's slice
    const int64_t n = static_cast<int64_t>(ids.size());
    std::vector<float> ref(n * d);
    cpu::embedding({host_view_i32(ids, {n}), host_view(table, {vocab_local, d}), begin, host_view(ref, {n, d})});

    Tensor out = poisoned({n, d});
    gpu_->embedding({test::to_device_i32(*gpu_, ids, {n}), dev(table, {vocab_local, d}), begin, out});
    EXPECT_EQ(rel_error(host(out), ref), 0.0) << "d = " << d;  // a copy: exact
  }
}

TEST_P(CudaOpsTest, RmsNorm) {
  for (int64_t d : {64, 1000, 1001, 4096}) {  // 1001: the element-wise path
    const int64_t n = 5;
    std::vector<float> x = input(n * d, 2, -3.0f, 3.0f), w = input(d, 3, 0.5f, 1.5f), ref(n * d);
    cpu::rmsnorm({host_view(x, {n, d}), host_view(w, {d}), host_view(ref, {n, d}), 1e-5f});
    Tensor out = poisoned({n, d});
    gpu_->rmsnorm({dev(x, {n, d}), dev(w, {d}), out, 1e-5f});
    EXPECT_LT(rel_error(host(out), ref), tolerance(dt_)) << "d = " << d;
  }
}

struct MatmulCase {
  int64_t n, k, m;
  bool bias;
  int64_t row_offset;  // x is a row slice starting here: an address that is not 256-byte aligned
  bool y_slice = false;  // y is rows [1, n + 1) of a bigger tensor (the model's per-row logits)
};

void CudaOpsTest::check_matmul_cases(const std::function<void(const MatmulArgs&)>& run) {
  // x at 16 (k 120, offset 3), 128, 16 and 8 bytes of alignment in bf16; y at 2 (m 21) and 80 bytes.
  const MatmulCase cases[] = {{1, 256, 384, false, 0},     {1, 256, 384, true, 0},      {7, 100, 33, true, 0},
                              {33, 512, 1000, false, 0},   {16, 120, 96, true, 3},      {2, 64, 4096, false, 1},
                              {3, 72, 40, true, 1, true},  {4, 36, 20, false, 1},       {1, 64, 21, false, 0, true},
                              {5, 64, 21, true, 0, true}};
  uint32_t seed = 10;
  for (const MatmulCase& c : cases) {
    const int64_t rows = c.n + c.row_offset;
    std::vector<float> x_all = input(rows * c.k, seed++), w = input(c.m * c.k, seed++), b = input(c.m, seed++);
    std::vector<float> x(x_all.begin() + c.row_offset * c.k, x_all.end()), ref(c.n * c.m);
    cpu::matmul({host_view(x, {c.n, c.k}), host_view(w, {c.m, c.k}), c.bias ? host_view(b, {c.m}) : Tensor(),
                 host_view(ref, {c.n, c.m})});

    Tensor gx = dev(x_all, {rows, c.k}).slice_rows(c.row_offset, rows);
    Tensor out = c.y_slice ? poisoned({c.n + 1, c.m}).slice_rows(1, c.n + 1) : poisoned({c.n, c.m});
    run({gx, dev(w, {c.m, c.k}), c.bias ? dev(b, {c.m}) : Tensor(), out});
    EXPECT_LT(rel_error(host(out), ref), tolerance(dt_, 1e-4))
        << "n " << c.n << " k " << c.k << " m " << c.m << " bias " << c.bias << " row offset " << c.row_offset
        << " y slice " << c.y_slice;
  }
}

TEST_P(CudaOpsTest, Matmul) {
  check_matmul_cases([&](const MatmulArgs& a) { gpu_->matmul(a); });
}

// The fallback for shapes and alignments cuBLASLt cannot serve, forced on every case.
TEST_P(CudaOpsTest, MatmulThroughCublasGemmEx) {
  cuda::Gemm legacy(size_t{32} << 20, /*force_legacy=*/true);
  check_matmul_cases([&](const MatmulArgs& a) { legacy.run(a, gpu_->cuda_stream()); });
}

TEST_P(CudaOpsTest, Rope) {
  for (int64_t hd : {16, 64, 128}) {
    for (float scaling : {1.0f, 1.25f}) {
      const int64_t n = 6, heads = 3, half = hd / 2;
      std::vector<float> x = input(n * heads * hd, 20), inv_freq(half);
      for (int64_t i = 0; i < half; ++i) inv_freq[i] = std::pow(10000.0f, -2.0f * i / hd);
      std::vector<int32_t> pos = {0, 1, 7, 300, 4095, 131071};
      std::vector<float> ref = x;
      cpu::rope({host_view(ref, {n, heads, hd}), host_view_i32(pos, {n}), host_view(inv_freq, {half}), scaling});

      Tensor gx = dev(x, {n, heads, hd});
      Tensor gf = test::to_device(*gpu_, inv_freq, DType::kF32, {half});
      gpu_->rope({gx, test::to_device_i32(*gpu_, pos, {n}), gf, scaling});
      EXPECT_LT(rel_error(host(gx), ref), tolerance(dt_)) << "hd " << hd << " scaling " << scaling;
    }
  }
}

TEST_P(CudaOpsTest, KvWrite) {
  const int64_t blocks = 6, bs = 4, hkv = 2, hd = 64, n = 5;
  std::vector<float> k = input(n * hkv * hd, 30), v = input(n * hkv * hd, 31);
  std::vector<float> kc = input(blocks * bs * hkv * hd, 32), vc = input(blocks * bs * hkv * hd, 33);
  std::vector<int32_t> slots = {5, 0, 23, 12, 13};  // scattered over blocks, first and last slot included
  const Shape cache{blocks, bs, hkv, hd};
  Tensor gkc = dev(kc, cache), gvc = dev(vc, cache);  // prefilled: slots not written must stay unchanged
  cpu::kv_write({host_view(k, {n, hkv, hd}), host_view(v, {n, hkv, hd}), host_view(kc, cache), host_view(vc, cache),
                 host_view_i32(slots, {n})});
  gpu_->kv_write({dev(k, {n, hkv, hd}), dev(v, {n, hkv, hd}), gkc, gvc, test::to_device_i32(*gpu_, slots, {n})});
  EXPECT_EQ(rel_error(host(gkc), kc), 0.0);
  EXPECT_EQ(rel_error(host(gvc), vc), 0.0);
}

TEST_P(CudaOpsTest, Swiglu) {
  const int64_t n = 7, f = 1000;
  std::vector<float> gate_up = input(n * 2 * f, 40, -8.0f, 8.0f), ref(n * f);
  gate_up[0] = round_to({-100.0f}, dt_)[0];  // e^-g overflows: torch gives -0, never NaN
  cpu::swiglu({host_view(gate_up, {n, 2 * f}), host_view(ref, {n, f})});

  Tensor out = poisoned({n, f});
  gpu_->swiglu({dev(gate_up, {n, 2 * f}), out});
  EXPECT_LT(rel_error(host(out), ref), tolerance(dt_));
}

TEST_P(CudaOpsTest, Add) {
  const int64_t n = 7, d = 333;
  std::vector<float> x = input(n * d, 50), y = input(n * d, 51);
  std::vector<float> ref = y;
  cpu::add(host_view(x, {n, d}), host_view(ref, {n, d}));
  Tensor gy = dev(y, {n, d});
  gpu_->add(dev(x, {n, d}), gy);
  EXPECT_LT(rel_error(host(gy), ref), tolerance(dt_));
}

TEST_P(CudaOpsTest, UploadDownloadRoundTrip) {
  std::vector<float> v = input(1001, 60);
  EXPECT_EQ(rel_error(host(dev(v, {1001})), v), 0.0);
  EXPECT_EQ(gpu_->compute_dtype(), dt_);
  EXPECT_EQ(gpu_->device(), Device::kCuda);
}

TEST_P(CudaOpsTest, RefusesHostTensorsAndMismatches) {
  std::vector<float> h(16);
  Tensor host = Tensor::view(h.data(), dt_, {4, 4});
  EXPECT_THROW(gpu_->add(host, host), Error);
  EXPECT_THROW(gpu_->matmul({dev(h, {4, 4}), dev(h, {4, 4}), Tensor(), dev(h, {3, 4})}), Error);
  Tensor y = dev(h, {4, 4});
  EXPECT_THROW(gpu_->matmul({y, dev(h, {4, 4}), Tensor(), y}), Error) << "output overlapping an input";
}

INSTANTIATE_TEST_SUITE_P(AllDtypes, CudaOpsTest, ::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// CudaOps::attention on a decode batch whose plan has several splits keeps its partials in the
// scratch attention_decode keeps per stream (no stream-ordered allocation per call): right
// directly, while the graph cache records it and on replays, and again after a call of a larger
// plan (the scratch grows; the recorded graph keeps the buffer it was recorded with).
TEST(CudaOpsAttention, DecodeKeepsItsScratchAcrossCallsAndGraphs) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  cuda::CudaOps ops(0, DType::kBF16);
  using attn_test::decode_batch;
  attn_test::Batch small = attn_test::make_batch(DType::kBF16, {8, 1}, 128, 16, decode_batch({3000, 17}), 31);
  attn_test::Batch large = attn_test::make_batch(DType::kBF16, {8, 1}, 128, 16, decode_batch({9000, 5000, 64}), 32);
  const std::vector<float> ref_small = attn_test::reference(small), ref_large = attn_test::reference(large);
  const attn_test::DeviceBatch ds(small), dl(large);
  const AttentionArgs as = ds.args(small), al = dl.args(large);
  ASSERT_GT(cuda::describe_decode(as).num_splits, 1);
  for (int run = 0; run < 5; ++run) {  // direct, recorded, replayed; after run 2 the scratch has grown
    cuda::fill_bytes(as.out, 0xff);
    GQA_CUDA_CHECK(cudaDeviceSynchronize());
    ops.run_graph("decode small", [&] { ops.attention(as); });
    if (run == 2) ops.attention(al);
    ops.synchronize();
    EXPECT_LT(rel_error(attn_test::download(as.out), ref_small), 1e-2) << "run " << run;
  }
  EXPECT_LT(rel_error(attn_test::download(al.out), ref_large), 1e-2);
}

// The one-wave fused plan (GQA_DECODE_ONE_WAVE_FUSED=1, an opt-in; at batch 16 of the 70B T=8
// shard the splits merged in their last blocks, arrival counters kept per stream) switched on,
// through CudaOps as a decode step runs it:
// directly, recorded into a graph (the counters grown before the capture by the direct call),
// replayed; right every time.
TEST(CudaOpsAttention, OneWaveFusedPlanInGraphs) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  cuda::CudaOps ops(0, DType::kBF16);
  std::vector<int> contexts;
  for (int i = 0; i < 16; ++i) contexts.push_back(5595 - 173 * i);
  attn_test::Batch b = attn_test::make_batch(DType::kBF16, {8, 1}, 128, 16, attn_test::decode_batch(contexts), 33);
  const std::vector<float> ref = attn_test::reference(b);
  const attn_test::DeviceBatch d(b);
  const AttentionArgs a = d.args(b);
  const cuda::ScopedSwitch fused_off(cuda::decode_fused_merge_enabled, cuda::set_decode_fused_merge, false);
  const cuda::ScopedSwitch cluster_off(cuda::decode_cluster_enabled, cuda::set_decode_cluster, false);
  const cuda::ScopedSwitch on(cuda::decode_one_wave_fused_enabled, cuda::set_decode_one_wave_fused, true);
  if (!cuda::describe_decode(a).fused_merge) {
    GTEST_SKIP() << cuda::current_sm_count() << " SMs: 16 sequences take no one-wave plan here";
  }
  for (int run = 0; run < 4; ++run) {  // direct (the graph cache's warm-up), recorded, replayed twice
    cuda::fill_bytes(a.out, 0xff);
    GQA_CUDA_CHECK(cudaDeviceSynchronize());
    ops.run_graph("decode one wave", [&] { ops.attention(a); });
    ops.synchronize();
    EXPECT_LT(rel_error(attn_test::download(a.out), ref), 1e-2) << "run " << run;
  }
}

}  // namespace
}  // namespace gqa
