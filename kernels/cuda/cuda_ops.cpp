#include "kernels/cuda/cuda_ops.h"

#include <cstring>
#include <vector>

#include "kernels/cuda/add.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_fault.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/gemv_rope.h"
#include "kernels/cuda/kv_write.h"
#include "kernels/cuda/l2_prefetch.h"
#include "kernels/cuda/mlp_persistent.h"
#include "kernels/cuda/pdl.h"
#include "kernels/cuda/rmsnorm.h"
#include "kernels/cuda/rope.h"
#include "kernels/cuda/rope_kv_write.h"
#include "kernels/cuda/swiglu.h"

namespace gqa::cuda {

CudaOps::CudaOps(int device, DType compute) : device_(device), compute_(compute) {
  check_env_switches();  // (a bad GQA_* value is refused here, not where its switch is first read)
  GQA_CHECK(compute == DType::kF32 || compute == DType::kF16 || compute == DType::kBF16,
            "CudaOps: compute dtype must be f32, f16 or bf16, got " << dtype_name(compute));
  const int count = device_count();
  GQA_CHECK(device >= 0 && device < count,
            "CudaOps: device " << device << " does not exist (" << count << " CUDA device(s) visible)");
  GQA_CUDA_CHECK(cudaSetDevice(device));
  install_device_fault_record();  // (a kernel that traps then says why: device_fault.h)
  // The stream-ordered scratch of sampling and top-k (cudaMallocAsync, every token) comes from the
  // device's default pool, which by default hands its memory back to the driver at every
  // synchronisation, i.e. after every token: keep up to kPoolKeepBytes mapped instead.
  int pools = 0;
  GQA_CUDA_CHECK(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device));
  if (pools != 0) {
    cudaMemPool_t pool = nullptr;
    GQA_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
    uint64_t keep = kPoolKeepBytes;  // (the attribute is a cuuint64_t, i.e. uint64_t)
    GQA_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
  }
  GQA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  try {
    gemm_ = std::make_unique<Gemm>();
    staging_ = std::make_unique<PinnedStaging>();
  } catch (...) {
    cudaStreamDestroy(stream_);
    throw;
  }
}

CudaOps::~CudaOps() {
  // No throw from a destructor: a failure here means the context is already broken.
  cudaStreamSynchronize(stream_);
  graphs_.clear();
  staging_.reset();
  gemm_.reset();
  cudaStreamDestroy(stream_);
}

Tensor CudaOps::alloc(DType dtype, Shape shape) {
  Tensor t = device_alloc(dtype, std::move(shape));
  fill_bytes(t, 0, stream_);
  return t;
}

// src: numel(dst) floats, converted on the host to dst's dtype, then copied (synchronously).
void CudaOps::upload_f32(const float* src, Tensor dst) {
  detail::expect_device(dst, "upload_f32", "destination");
  GQA_CHECK(dst.dtype() != DType::kI32,
            "upload_f32: destination " << shape_str(dst.shape()) << " is i32; use upload_i32");
  if (void* p = staging_->reserve(dst.nbytes(), stream_)) {
    convert_from_f32(src, p, dst.dtype(), static_cast<size_t>(dst.numel()));
    staging_->queue(p, dst.nbytes(), dst.data(), stream_);
    return;
  }
  std::vector<uint8_t> staged(dst.nbytes());
  convert_from_f32(src, staged.data(), dst.dtype(), static_cast<size_t>(dst.numel()));
  copy_to_device(staged.data(), dst, stream_);
}

void CudaOps::upload_i32(const int32_t* src, Tensor dst) {
  detail::expect_device(dst, "upload_i32", "destination");
  GQA_CHECK(dst.dtype() == DType::kI32, "upload_i32: destination " << shape_str(dst.shape()) << " is "
                                                                   << dtype_name(dst.dtype()) << ", not i32");
  if (void* p = staging_->reserve(dst.nbytes(), stream_)) {
    std::memcpy(p, src, dst.nbytes());
    staging_->queue(p, dst.nbytes(), dst.data(), stream_);
    return;
  }
  copy_to_device(src, dst, stream_);
}

// dst: numel(src) floats. Ordered after all work queued on the stream.
void CudaOps::download_f32(const Tensor& src, float* dst) {
  detail::expect_device(src, "download_f32", "source");
  GQA_CHECK(src.dtype() != DType::kI32, "download_f32: source " << shape_str(src.shape()) << " is i32");
  if (src.dtype() == DType::kF32) {
    copy_to_host(src, dst, stream_);  // synchronises the stream: queued uploads are done
    staging_->reset();
    return;
  }
  std::vector<uint8_t> staged(src.nbytes());
  copy_to_host(src, staged.data(), stream_);
  staging_->reset();
  convert_to_f32(staged.data(), src.dtype(), dst, static_cast<size_t>(src.numel()));
}

void CudaOps::synchronize() {
  GQA_CUDA_CHECK(cudaStreamSynchronize(stream_));
  staging_->reset();
}

void CudaOps::embedding(const EmbeddingArgs& a) { cuda::embedding(a, stream_); }

void CudaOps::rmsnorm(const RmsNormArgs& a) {
  constexpr const char* kOp = "cuda rmsnorm";
  detail::expect_device(a.x, kOp, "x");
  detail::expect_device(a.weight, kOp, "weight");
  detail::expect_device(a.out, kOp, "out");
  cuda::rmsnorm(RmsNormResidualArgs{a.x, Tensor(), a.weight, a.out, a.eps}, stream_);
}

void CudaOps::add_rmsnorm(const AddRmsNormArgs& a) {
  constexpr const char* kOp = "cuda add_rmsnorm";
  detail::expect_device(a.x, kOp, "x");
  detail::expect_device(a.residual, kOp, "residual");
  detail::expect_device(a.weight, kOp, "weight");
  detail::expect_device(a.out, kOp, "out");
  cuda::rmsnorm(RmsNormResidualArgs{a.x, a.residual, a.weight, a.out, a.eps, a.x_out}, stream_);
}

void CudaOps::prefetch_weights(const std::vector<Tensor>& weights) {
  // Only under PDL: there the kernel starts as its predecessor ends and its successor launches at
  // once; without it, it would add a serial launch to the chain.
  if (!l2_prefetch_enabled() || !pdl_enabled()) return;
  std::vector<PrefetchWeight> list;
  for (const Tensor& w : weights) {
    detail::expect_device(w, "prefetch_weights", "weight");
    GQA_CHECK(w.ndim() == 2, "prefetch_weights: weights must be 2-D, got " << shape_str(w.shape()));
    list.push_back({w.data(), w.dim(0), w.dim(1) * static_cast<int64_t>(dtype_size(w.dtype()))});
  }
  l2_prefetch(list, l2_prefetch_budget(), stream_);
}

bool CudaOps::supports_graphs() const { return !sync_debug_enabled(); }

void CudaOps::run_graph(const std::string& key, const std::function<void()>& record) {
  if (!supports_graphs()) return record();
  graphs_.run(key, stream_, record);
}

void CudaOps::matmul(const MatmulArgs& a) { gemm_->run(a, stream_); }
void CudaOps::rope(const RopeArgs& a) { cuda::rope(a, stream_); }
void CudaOps::kv_write(const KvWriteArgs& a) { cuda::kv_write(a, stream_); }
void CudaOps::rope_kv_write(const RopeKvWriteArgs& a) { cuda::rope_kv_write(a, stream_); }

void CudaOps::attention(const AttentionArgs& a) { cuda::attention(a, stream_); }

void CudaOps::swiglu(const SwigluArgs& a) { cuda::swiglu(a, stream_); }

bool CudaOps::rope_gemv_serves(const MatmulArgs& mm, const RopeKvWriteArgs& rk) const {
  return cuda::fused_rope_enabled() && gemm_->use_gemv() && cuda::gemv_rope_kv_write_supported(mm, rk);
}

bool CudaOps::swiglu_gemv_serves(const MatmulArgs& a, const Tensor& act) const {
  return !a.bias.defined() && cuda::fused_swiglu_enabled() && gemm_->use_gemv() &&
         cuda::gemv_swiglu_supported(a.x, a.w, act);
}

void CudaOps::matmul_rope_kv_write(const MatmulArgs& mm, const RopeKvWriteArgs& rk) {
  if (rope_gemv_serves(mm, rk)) {
    cuda::gemv_rope_kv_write(mm, rk, stream_);
  } else {
    Ops::matmul_rope_kv_write(mm, rk);
  }
}

void CudaOps::matmul_swiglu(const MatmulArgs& a, const Tensor& act) {
  if (swiglu_gemv_serves(a, act)) {
    cuda::gemv_swiglu(a.x, a.w, act, stream_);
  } else {
    Ops::matmul_swiglu(a, act);
  }
}

void CudaOps::add_rmsnorm_matmul_rope_kv_write(const AddRmsNormArgs& norm, const MatmulArgs& mm,
                                               const RopeKvWriteArgs& rk) {
  if (cuda::fused_norm_enabled() && rope_gemv_serves(mm, rk) &&
      cuda::gemv_norm_serves(norm, mm.x, mm.w, cuda::gemv_rope_outputs(rk), cuda::gemv_rope_inputs(mm, rk))) {
    cuda::gemv_rope_kv_write(mm, rk, stream_, &norm);
  } else {
    Ops::add_rmsnorm_matmul_rope_kv_write(norm, mm, rk);
  }
}

void CudaOps::add_rmsnorm_matmul_swiglu(const AddRmsNormArgs& norm, const MatmulArgs& a, const Tensor& act) {
  if (cuda::fused_norm_enabled() && swiglu_gemv_serves(a, act) && cuda::gemv_norm_serves(norm, a.x, a.w, {act}, {})) {
    cuda::gemv_swiglu(a.x, a.w, act, stream_, &norm);
  } else {
    Ops::add_rmsnorm_matmul_swiglu(norm, a, act);
  }
}
void CudaOps::add_rmsnorm_mlp(const AddRmsNormArgs& norm, const MatmulArgs& gate_up, const Tensor& act,
                              const MatmulArgs& down) {
  if (!cuda::mlp_persistent_enabled() || !cuda::try_mlp_persistent(norm, gate_up, act, down, stream_)) {
    Ops::add_rmsnorm_mlp(norm, gate_up, act, down);
  }
}

void CudaOps::add(const Tensor& x, Tensor y) { cuda::add(AddArgs{x, std::move(y)}, stream_); }

}  // namespace gqa::cuda
