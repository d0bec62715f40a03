// Tensor: a typed, shaped view of memory on one device, optionally owning it.
// Row-major and contiguous always; slicing along dim 0 stays contiguous.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace gqa {

enum class Device { kCpu, kCuda };

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);  // "[2, 3]"
// Elements of a shape; throws gqa::Error for a negative dimension or a count past int64.
int64_t shape_numel(const Shape& s);
// Bytes of a tensor of that shape and dtype (what an allocation asks for); throws gqa::Error where
// shape_numel does and where the product passes size_t.
size_t shape_bytes(const Shape& s, DType dtype);

class Tensor {
 public:
  Tensor() = default;
  // `storage` keeps the memory alive (may be null for a non-owning view).
  Tensor(std::shared_ptr<void> storage, void* data, DType dtype, Shape shape, Device device);

  // Owning, 64-byte aligned, zero-filled host allocation.
  static Tensor host(DType dtype, Shape shape);
  // Non-owning view of memory someone else keeps alive.
  static Tensor view(void* data, DType dtype, Shape shape, Device device = Device::kCpu);

  bool defined() const { return data_ != nullptr; }
  void* data() const { return data_; }
  template <typename T>
  T* data_as() const { return static_cast<T*>(data_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  // Size of dimension i (negative: from the end); throws gqa::Error for one the tensor lacks.
  int64_t dim(int i) const {
    const int64_t k = i < 0 ? static_cast<int64_t>(shape_.size()) + i : i;
    if (k < 0 || k >= static_cast<int64_t>(shape_.size())) no_such_dim(i);
    return shape_[static_cast<size_t>(k)];
  }
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  // Same memory, new shape with the same element count.
  Tensor reshape(Shape shape) const;
  // Rows [begin, end) along dim 0 (a view sharing the storage).
  Tensor slice_rows(int64_t begin, int64_t end) const;

 private:
  [[noreturn]] void no_such_dim(int i) const;
  std::shared_ptr<void> storage_;
  void* data_ = nullptr;
  DType dtype_ = DType::kF32;
  Shape shape_;
  Device device_ = Device::kCpu;
};

// True when two defined tensors share a byte (ops that must not write over their inputs check
// this); false when either is undefined.
bool overlaps(const Tensor& a, const Tensor& b);

}  // namespace gqa
