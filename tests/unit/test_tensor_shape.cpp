// Tensor shapes whose element or byte count passes int64 / size_t are refused by name, before an
// allocation is sized from the wrapped product (a shape of 2^62 x 4 got a 64-byte buffer).
#include <gtest/gtest.h>

#include <cstdint>

#include "core/error.h"
#include "core/host_memory.h"
#include "core/tensor.h"
#include "tests/support/expect_error.h"

namespace gqa {
namespace {

using test::expect_error;

TEST(TensorShape, CountsPastTheIntegerRangeAreRefused) {
  EXPECT_EQ(shape_numel({2, 3, 4}), 24);
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(shape_numel({5, 0}), 0);
  expect_error([] { shape_numel({int64_t{1} << 62, 4}); }, "has more elements than int64 holds");
  expect_error([] { shape_numel({3, -1}); }, "negative dimension in tensor shape [3, -1]");
  EXPECT_EQ(shape_bytes({2, 3}, DType::kBF16), 12u);
  expect_error([] { shape_bytes({int64_t{1} << 61, 2}, DType::kF32); }, "is more bytes than memory holds");
  expect_error([] { Tensor::host(DType::kF32, {int64_t{1} << 62, 4}); }, "has more elements than int64 holds");
}

TEST(TensorShape, DimensionsOutsideTheShapeAreRefusedByName) {
  const Tensor t = Tensor::host(DType::kF32, {2, 3});
  EXPECT_EQ(t.dim(1), 3);
  EXPECT_EQ(t.dim(-2), 2);
  expect_error([&] { t.dim(2); }, "tensor of shape [2, 3] has no dimension 2");
  expect_error([&] { t.dim(-3); }, "has no dimension -3");
}

// overlaps(): tensors sharing a byte overlap; one ending where the other begins does not (the
// kernels' checks refuse an output overlapping an input, so adjacent buffers must pass), nor does
// an undefined tensor. Found by mutation testing (adjacent slices taken as overlapping passed
// every test).
TEST(TensorShape, AdjacentTensorsDoNotOverlap) {
  const Tensor t = Tensor::host(DType::kF32, {4, 2});
  EXPECT_FALSE(overlaps(t.slice_rows(0, 2), t.slice_rows(2, 4)));
  EXPECT_FALSE(overlaps(t.slice_rows(2, 4), t.slice_rows(0, 2)));
  EXPECT_TRUE(overlaps(t.slice_rows(0, 3), t.slice_rows(2, 4)));
  EXPECT_TRUE(overlaps(t.slice_rows(2, 4), t.slice_rows(0, 3)));
  EXPECT_TRUE(overlaps(t, t.slice_rows(1, 2)));
  EXPECT_FALSE(overlaps(t, Tensor()));
}

// reshape() keeps the element count: to fewer elements is refused as well as to more. Found by
// mutation testing (accepting any smaller count passed every test).
TEST(TensorShape, ReshapeKeepsTheElementCount) {
  const Tensor t = Tensor::host(DType::kF32, {2, 3});
  EXPECT_EQ(t.reshape({3, 2}).shape(), (Shape{3, 2}));
  EXPECT_EQ(t.reshape({6}).data(), t.data());
  expect_error([&] { t.reshape({5}); }, "cannot reshape [2, 3] to [5]");
  expect_error([&] { t.reshape({7}); }, "cannot reshape [2, 3] to [7]");
}

// A host tensor past the memory this process may use is refused by name before allocating (Linux
// would grant it and the memset would get the process killed). 2^60 bytes: past any machine, and
// past the address space, so an unchecked allocation fails too, with another message. Found by
// mutation testing (dropping the limit check passed every test).
TEST(TensorShape, HostTensorsPastTheMemoryLimitAreRefused) {
  if (memory_limit().bytes == 0) GTEST_SKIP() << "this machine's memory is unknown";
  expect_error([] { Tensor::host(DType::kF32, {int64_t{1} << 58}); },
               {"out of host memory", "1152921504606846976 bytes for tensor [288230376151711744]",
                "bytes this process may use"});
}

}  // namespace
}  // namespace gqa
