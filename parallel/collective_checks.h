// Argument checks shared by every Communicator backend, so a bad call fails the same way (and
// before any rank enters a collective) whichever backend runs it.
#pragma once

#include "core/error.h"
#include "core/tensor.h"

namespace gqa::detail {

// all_reduce_sum sums floating-point activations only.
inline void check_all_reduce_args(const Tensor& t, const char* backend) {
  GQA_CHECK(t.defined() || t.numel() == 0, backend << " all_reduce_sum: tensor has no data");
  const DType d = t.dtype();
  GQA_CHECK(d == DType::kF32 || d == DType::kF16 || d == DType::kBF16,
            backend << " all_reduce_sum: dtype " << dtype_name(d)
                    << " not supported (need f32, f16 or bf16)");
}

// out must be [size, in...] with in's dtype and device.
inline void check_all_gather_args(const Tensor& in, const Tensor& out, int size, const char* backend) {
  Shape want{size};
  want.insert(want.end(), in.shape().begin(), in.shape().end());
  GQA_CHECK(out.shape() == want, backend << " all_gather: out is " << shape_str(out.shape())
                                         << ", need " << shape_str(want) << " ([size, in...])");
  GQA_CHECK(out.dtype() == in.dtype(), backend << " all_gather: out dtype " << dtype_name(out.dtype())
                                               << " != in dtype " << dtype_name(in.dtype()));
  GQA_CHECK(out.device() == in.device(), backend << " all_gather: in and out on different devices");
}

inline void check_root(int root, int size, const char* backend) {
  GQA_CHECK(root >= 0 && root < size,
            backend << " broadcast: root " << root << " out of range for " << size << " ranks");
}

}  // namespace gqa::detail
