#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "core/error.h"
#include "core/host_memory.h"

namespace gqa {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    GQA_CHECK(d >= 0, "negative dimension in tensor shape " << shape_str(s));
    GQA_CHECK(!__builtin_mul_overflow(n, d, &n), "tensor shape " << shape_str(s) << " has more elements than int64 holds");
  }
  return n;
}

Tensor::Tensor(std::shared_ptr<void> storage, void* data, DType dtype, Shape shape, Device device)
    : storage_(std::move(storage)), data_(data), dtype_(dtype), shape_(std::move(shape)), device_(device) {
  for (int64_t d : shape_) GQA_CHECK(d >= 0, "negative dimension in tensor shape " << shape_str(shape_));
}

size_t shape_bytes(const Shape& s, DType dtype) {
  size_t bytes = 0;
  GQA_CHECK(!__builtin_mul_overflow(static_cast<size_t>(shape_numel(s)), dtype_size(dtype), &bytes),
            "tensor shape " << shape_str(s) << " of " << dtype_name(dtype) << " is more bytes than memory holds");
  return bytes;
}

Tensor Tensor::host(DType dtype, Shape shape) {
  const size_t bytes = shape_bytes(shape, dtype);
  // (Linux overcommits: a tensor larger than the machine would be granted, then the memset below
  // would get the process killed instead of this message.)
  const MemoryLimit limit = memory_limit();
  GQA_CHECK(limit.bytes == 0 || bytes <= limit.bytes,
            "out of host memory: " << bytes << " bytes for tensor " << shape_str(shape) << " exceed the " << limit.bytes
                                   << " bytes this process may use (" << limit.source() << ")");
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  GQA_CHECK(p != nullptr, "out of host memory allocating " << bytes << " bytes for tensor " << shape_str(shape));
  std::memset(p, 0, rounded == 0 ? 64 : rounded);
  std::shared_ptr<void> storage(p, [](void* q) { std::free(q); });
  return Tensor(std::move(storage), p, dtype, std::move(shape), Device::kCpu);
}

void Tensor::no_such_dim(int i) const {
  GQA_FAIL("tensor of shape " << shape_str(shape_) << " has no dimension " << i);
}

Tensor Tensor::view(void* data, DType dtype, Shape shape, Device device) {
  return Tensor(nullptr, data, dtype, std::move(shape), device);
}

Tensor Tensor::reshape(Shape shape) const {
  GQA_CHECK(shape_numel(shape) == numel(),
            "cannot reshape " << shape_str(shape_) << " to " << shape_str(shape));
  return Tensor(storage_, data_, dtype_, std::move(shape), device_);
}

Tensor Tensor::slice_rows(int64_t begin, int64_t end) const {
  GQA_CHECK(ndim() >= 1 && begin >= 0 && begin <= end && end <= shape_[0],
            "row slice [" << begin << ", " << end << ") out of range for " << shape_str(shape_));
  Shape s = shape_;
  s[0] = end - begin;
  const int64_t row = numel() / (shape_[0] == 0 ? 1 : shape_[0]);
  char* p = static_cast<char*>(data_) + static_cast<size_t>(begin * row) * dtype_size(dtype_);
  return Tensor(storage_, p, dtype_, std::move(s), device_);
}

bool overlaps(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) return false;
  const char* a0 = static_cast<const char*>(a.data());
  const char* b0 = static_cast<const char*>(b.data());
  return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

}  // namespace gqa
