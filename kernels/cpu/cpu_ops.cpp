#include "kernels/cpu/cpu_ops.h"

#include <cstring>

#include "kernels/cpu/cpu_kernels.h"

namespace gqa::cpu {
namespace {

void expect_host(const Tensor& t, const char* call) {
  GQA_CHECK(t.defined(), call << ": tensor is undefined");
  GQA_CHECK(t.device() == Device::kCpu,
            call << ": tensor " << shape_str(t.shape()) << " is not in host memory");
}

}  // namespace

Tensor CpuOps::alloc(DType dtype, Shape shape) { return Tensor::host(dtype, std::move(shape)); }

// src: numel(dst) floats, converted to dst's dtype (f32, f16 or bf16).
void CpuOps::upload_f32(const float* src, Tensor dst) {
  expect_host(dst, "upload_f32");
  GQA_CHECK(dst.dtype() != DType::kI32,
            "upload_f32: destination " << shape_str(dst.shape()) << " is i32; use upload_i32");
  convert_from_f32(src, dst.data(), dst.dtype(), static_cast<size_t>(dst.numel()));
}

// src: numel(dst) int32 values; dst must be i32.
void CpuOps::upload_i32(const int32_t* src, Tensor dst) {
  expect_host(dst, "upload_i32");
  GQA_CHECK(dst.dtype() == DType::kI32, "upload_i32: destination " << shape_str(dst.shape()) << " is "
                                                                   << dtype_name(dst.dtype()) << ", not i32");
  std::memcpy(dst.data(), src, dst.nbytes());
}

// dst: numel(src) floats, converted from src's dtype (f32, f16 or bf16).
void CpuOps::download_f32(const Tensor& src, float* dst) {
  expect_host(src, "download_f32");
  GQA_CHECK(src.dtype() != DType::kI32, "download_f32: source " << shape_str(src.shape()) << " is i32");
  convert_to_f32(src.data(), src.dtype(), dst, static_cast<size_t>(src.numel()));
}

void CpuOps::embedding(const EmbeddingArgs& a) { cpu::embedding(a); }
void CpuOps::rmsnorm(const RmsNormArgs& a) { cpu::rmsnorm(a); }
void CpuOps::matmul(const MatmulArgs& a) { cpu::matmul(a); }
void CpuOps::rope(const RopeArgs& a) { cpu::rope(a); }
void CpuOps::kv_write(const KvWriteArgs& a) { cpu::kv_write(a); }
void CpuOps::attention(const AttentionArgs& a) { cpu::attention(a); }
void CpuOps::swiglu(const SwigluArgs& a) { cpu::swiglu(a); }
void CpuOps::add(const Tensor& x, Tensor y) { cpu::add(x, std::move(y)); }

}  // namespace gqa::cpu
