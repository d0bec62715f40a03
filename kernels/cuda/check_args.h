// Argument checks for the CUDA ops: every entry point validates device, dtype and shape on the
// host before launching, and throws gqa::Error naming the op and the tensor.
#pragma once

#include "core/error.h"
#include "core/tensor.h"

namespace gqa::cuda::detail {

// Throws unless `t` is a defined device tensor.
inline void expect_device(const Tensor& t, const char* op, const char* name) {
  GQA_CHECK(t.defined(), op << ": " << name << " is undefined");
  GQA_CHECK(t.device() == Device::kCuda, op << ": " << name << " " << shape_str(t.shape()) << " is not on the GPU");
}

// Throws unless `t` is a device tensor of `dtype` with exactly `shape`.
inline void expect(const Tensor& t, DType dtype, const Shape& shape, const char* op, const char* name) {
  expect_device(t, op, name);
  GQA_CHECK(t.dtype() == dtype, op << ": " << name << " must be " << dtype_name(dtype) << ", got "
                                   << dtype_name(t.dtype()) << " " << shape_str(t.shape()));
  GQA_CHECK(t.shape() == shape,
            op << ": " << name << " has shape " << shape_str(t.shape()) << ", expected " << shape_str(shape));
}

// Throws unless `t` is a device tensor with `ndim` dimensions.
inline void expect_ndim(const Tensor& t, int ndim, const char* op, const char* name) {
  expect_device(t, op, name);
  GQA_CHECK(t.ndim() == ndim,
            op << ": " << name << " must have " << ndim << " dimensions, got " << shape_str(t.shape()));
}

// Throws for f32/f16/bf16 kernels handed another dtype.
inline void expect_float(const Tensor& t, const char* op, const char* name) {
  const DType d = t.dtype();
  GQA_CHECK(d == DType::kF32 || d == DType::kF16 || d == DType::kBF16,
            op << ": " << name << " must be f32, f16 or bf16, got " << dtype_name(d));
}

// The operands of a paged KV-cache write (kv_write, rope_kv_write): k and v [n, hkv, hd] of one
// float dtype, caches [num_blocks, block_size, hkv, hd] of the same dtype, apart from each other
// and from k and v (the CPU twin's rule), i32 slots [n].
inline void expect_kv_write_operands(const Tensor& k, const Tensor& v, const Tensor& k_cache, const Tensor& v_cache,
                                     const Tensor& slots, const char* op) {
  expect_ndim(k, 3, op, "k");
  expect_float(k, op, "k");
  const int64_t n = k.dim(0), hkv = k.dim(1), hd = k.dim(2);
  expect(v, k.dtype(), {n, hkv, hd}, op, "v");
  expect_ndim(k_cache, 4, op, "k_cache");
  const int64_t num_blocks = k_cache.dim(0), block_size = k_cache.dim(1);
  expect(k_cache, k.dtype(), {num_blocks, block_size, hkv, hd}, op, "k_cache");
  expect(v_cache, k.dtype(), {num_blocks, block_size, hkv, hd}, op, "v_cache");
  expect(slots, DType::kI32, {n}, op, "slots");
  GQA_CHECK(!overlaps(k_cache, v_cache), op << ": k_cache and v_cache overlap");
  GQA_CHECK(!overlaps(k, k_cache) && !overlaps(k, v_cache) && !overlaps(v, k_cache) && !overlaps(v, v_cache),
            op << ": k or v overlaps a cache");
}

}  // namespace gqa::cuda::detail
