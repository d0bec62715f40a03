// Tensor shapes whose element or byte count passes int64 / size_t are refused by name, before an
// allocation is sized from the wrapped product (a shape of 2^62 x 4 got a 64-byte buffer).
#include <gtest/gtest.h>

#include <cstdint>

#include "core/error.h"
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

}  // namespace
}  // namespace gqa
