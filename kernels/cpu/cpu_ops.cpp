#include "kernels/cpu/cpu_ops.h"

#include <cstring>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/packed_qkv.h"

namespace gqa::cpu {
namespace {

void expect_host(const Tensor& t, const char* call) {
  GQA_CHECK(t.defined(), call << ": tensor is undefined");
  GQA_CHECK(t.device() == Device::kCpu,
            call << ": tensor " << shape_str(t.shape()) << " is not in host memory");
}

}  // namespace

CpuOps::CpuOps() { (void)cpu_threads(); }  // (read at the first long prompt's attention otherwise)

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
void CpuOps::add_rmsnorm(const AddRmsNormArgs& a) { cpu::add_rmsnorm(a); }
void CpuOps::matmul(const MatmulArgs& a) { cpu::matmul(a); }
void CpuOps::rope(const RopeArgs& a) { cpu::rope(a); }
void CpuOps::kv_write(const KvWriteArgs& a) { cpu::kv_write(a); }
void CpuOps::attention(const AttentionArgs& a) { cpu::attention(a); }
void CpuOps::swiglu(const SwigluArgs& a) { cpu::swiglu(a); }
void CpuOps::add(const Tensor& x, Tensor y) { cpu::add(x, std::move(y)); }

// The packed form is split on the host (q rows into the output q, k and v rows into temporaries),
// then runs as the unfused reference sequence.
void CpuOps::rope_kv_write(const RopeKvWriteArgs& a) {
  if (!a.qkv.defined()) return Ops::rope_kv_write(a);
  const PackedQkvDims d = packed_qkv_dims(a, "rope_kv_write");
  expect_host(a.qkv, "rope_kv_write");
  expect_host(a.q, "rope_kv_write");
  Tensor k = alloc(a.qkv.dtype(), {d.n, d.hkv, d.hd}), v = alloc(a.qkv.dtype(), {d.n, d.hkv, d.hd});
  const size_t el = dtype_size(a.qkv.dtype());
  const size_t q_bytes = d.hq * d.hd * el, kv_bytes = d.hkv * d.hd * el;
  const char* src = static_cast<const char*>(a.qkv.data());
  for (int64_t t = 0; t < d.n; ++t, src += d.row() * el) {
    std::memcpy(static_cast<char*>(a.q.data()) + t * q_bytes, src, q_bytes);
    std::memcpy(static_cast<char*>(k.data()) + t * kv_bytes, src + q_bytes, kv_bytes);
    std::memcpy(static_cast<char*>(v.data()) + t * kv_bytes, src + q_bytes + kv_bytes, kv_bytes);
  }
  Ops::rope_kv_write({a.q, k, v, a.k_cache, a.v_cache, a.slots, a.positions, a.inv_freq, a.attention_scaling});
}

std::vector<int32_t> CpuOps::sample_rows(const Tensor& logits, const SampleSpec& spec, const std::vector<double>& u) {
  detail::expect_kind(logits, DType::kF32, 2, "sample_rows", "logits");
  const int64_t m = logits.dim(0), vocab = logits.dim(1);
  GQA_CHECK(static_cast<int64_t>(u.size()) == m, "sample_rows: " << u.size() << " uniforms for " << m << " rows");
  std::vector<int32_t> ids(m);
  SampleScratch scratch;
  for (int64_t r = 0; r < m; ++r) ids[r] = sample_row(logits.data_as<float>() + r * vocab, vocab, spec, u[r], scratch);
  return ids;
}

std::vector<float> CpuOps::top_k_rows(const Tensor& logits, int64_t k, float temperature) {
  detail::expect_kind(logits, DType::kF32, 2, "top_k_rows", "logits");
  GQA_CHECK(k >= 1, "top_k_rows: k must be >= 1, got " << k);
  const int64_t m = logits.dim(0), n = logits.dim(1);
  std::vector<float> out(m * top_k_row_width(k));
  cpu::top_k_rows(logits.data_as<float>(), m, n, k, temperature, out.data());
  return out;
}

}  // namespace gqa::cpu
