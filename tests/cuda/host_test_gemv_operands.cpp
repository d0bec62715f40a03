// The decode GEMVs' operand rules (kernels/cuda/gemv.h: gemv_supported) and which tunings force
// the per-thread build (GemvTuning::forces_per_thread): host side, on tensors that are metadata
// only (made-up device addresses, never dereferenced), so CI runs them.
#include <gtest/gtest.h>

#include <cstdint>

#include "core/tensor.h"
#include "kernels/cuda/gemv.h"

namespace gqa {
namespace {

// A device-looking bf16 tensor at `offset` bytes past a 256-byte-aligned made-up address.
Tensor dev(int64_t rows, int64_t cols, uintptr_t base, uintptr_t offset = 0) {
  return Tensor::view(reinterpret_cast<void*>(base + offset), DType::kBF16, {rows, cols}, Device::kCuda);
}

TEST(GemvOperands, XAndWMustBeSixteenByteAligned) {
  const uintptr_t xs = uintptr_t{1} << 40, ws = uintptr_t{2} << 40, ys = uintptr_t{3} << 40;
  EXPECT_TRUE(cuda::gemv_supported(dev(1, 64, xs), dev(40, 64, ws), dev(1, 40, ys)));
  EXPECT_FALSE(cuda::gemv_supported(dev(1, 64, xs), dev(40, 64, ws, 8), dev(1, 40, ys)));  // w 8 bytes off
  EXPECT_FALSE(cuda::gemv_supported(dev(1, 64, xs, 8), dev(40, 64, ws), dev(1, 40, ys)));  // x 8 bytes off
  EXPECT_TRUE(cuda::gemv_supported(dev(1, 64, xs), dev(40, 64, ws), dev(1, 40, ys, 2)));   // y: any alignment
  EXPECT_FALSE(cuda::gemv_supported(dev(1, 60, xs), dev(40, 60, ws), dev(1, 40, ys)));     // k % 8
  EXPECT_FALSE(cuda::gemv_supported(dev(1, 64, xs), dev(40, 64, ws), dev(1, 41, ys)));     // y's shape
  const Tensor host_w = Tensor::view(reinterpret_cast<void*>(ws), DType::kBF16, {40, 64}, Device::kCpu);
  EXPECT_FALSE(cuda::gemv_supported(dev(1, 64, xs), host_w, dev(1, 40, ys)));  // a host tensor
}

// The per-thread build is forced by any of its own knobs (warps per group, deep, no budget, the
// flag itself); the default and the bulk and ring builds' flags leave the choice to the dispatch.
TEST(GemvOperands, WhichTuningsForceThePerThreadBuild) {
  struct Case {
    const char* what;
    void (*set)(cuda::GemvTuning&);
    bool forces;
  };
  const Case cases[] = {
      {"default", [](cuda::GemvTuning&) {}, false},
      {"group_warps 2", [](cuda::GemvTuning& t) { t.group_warps = 2; }, true},
      {"deep", [](cuda::GemvTuning& t) { t.deep = true; }, true},
      {"no_budget", [](cuda::GemvTuning& t) { t.no_budget = true; }, true},
      {"per_thread", [](cuda::GemvTuning& t) { t.per_thread = true; }, true},
      {"bulk", [](cuda::GemvTuning& t) { t.bulk = true; }, false},
      {"ring", [](cuda::GemvTuning& t) { t.ring = true; }, false},
  };
  for (const Case& c : cases) {
    cuda::GemvTuning t;
    c.set(t);
    EXPECT_EQ(t.forces_per_thread(), c.forces) << c.what;
  }
}

}  // namespace
}  // namespace gqa
