// CudaOps::sample_rows and top_k_rows: the logits stay on the GPU; one i32 per row, or the rows'
// top_k_row_width(k) candidate floats, come back.
#include "core/error.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cuda/check_args.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/sampling.h"

namespace gqa::cuda {

std::vector<int32_t> CudaOps::sample_rows(const Tensor& logits, const SampleSpec& spec, const std::vector<double>& u) {
  detail::expect_device(logits, "sample_rows", "logits");
  GQA_CHECK(logits.ndim() == 2, "sample_rows: logits must be [rows, vocab], got " << shape_str(logits.shape()));
  const int64_t m = logits.dim(0);
  GQA_CHECK(static_cast<int64_t>(u.size()) == m, "sample_rows: " << u.size() << " uniforms for " << m << " rows");
  std::vector<int32_t> ids(m);
  if (m == 0) return ids;
  // An undefined Tensor has shape [] and so numel() 1: test defined() too, or the first m = 1 call
  // would slice an unallocated buffer.
  if (!sample_ids_.defined() || sample_ids_.numel() < m) {  // small buffers, grown once, reused every step
    sample_ids_ = alloc(DType::kI32, {m});
    sample_u_ = alloc(DType::kF32, {m});
  }
  const Tensor out = sample_ids_.slice_rows(0, m), uniforms = sample_u_.slice_rows(0, m);
  const std::vector<float> uf(u.begin(), u.end());
  upload_f32(uf.data(), uniforms);
  // Temperature / top-p over the whole vocabulary: first from each row's best candidates (no sort
  // of the row); only when some row's nucleus or draw reaches past them, the sorted rows.
  const int64_t vocab = logits.dim(1);
  const bool whole_vocab = spec.top_k == 0 || spec.top_k >= vocab;
  if (spec.temperature > 0 && whole_vocab && vocab > kSampleCandidates && top_k_select_enabled()) {
    sample_from_candidates({logits, uniforms, out, spec.temperature, 0, spec.top_p}, kSampleCandidates, stream_);
    copy_to_host(out, ids.data(), stream_);  // synchronises the stream: the uploads are done
    bool deferred = false;
    for (int64_t r = 0; r < m; ++r) {  // only the rows the candidates could not decide: sorted
      if (ids[r] != kUndecided) continue;
      deferred = true;
      sample({logits.slice_rows(r, r + 1), uniforms.slice_rows(r, r + 1), out.slice_rows(r, r + 1), spec.temperature,
              spec.top_k, spec.top_p},
             stream_);
    }
    if (deferred) copy_to_host(out, ids.data(), stream_);
  } else {
    sample({logits, uniforms, out, spec.temperature, spec.top_k, spec.top_p}, stream_);
    copy_to_host(out, ids.data(), stream_);  // synchronises the stream: the uploads are done
  }
  staging_->reset();
  for (int64_t r = 0; r < m; ++r) {
    if (ids[r] < 0) throw NanLogitsError("logits contain NaN (row " + std::to_string(r) + " of the step, sampled on the GPU)");
  }
  return ids;
}

std::vector<float> CudaOps::top_k_rows(const Tensor& logits, int64_t k, float temperature) {
  detail::expect_device(logits, "top_k_rows", "logits");
  GQA_CHECK(logits.ndim() == 2, "top_k_rows: logits must be [rows, n], got " << shape_str(logits.shape()));
  GQA_CHECK(k >= 1 && k <= (INT32_MAX - 3) / 2, "top_k_rows: k must be in [1, 2^30), got " << k);
  const int64_t m = logits.dim(0), width = top_k_row_width(k);
  std::vector<float> rows(m * width);
  if (m == 0) return rows;
  GQA_CHECK(logits.dim(1) > 0, "top_k_rows: no columns in logits " << shape_str(logits.shape()));
  if (!gpu_top_k_enabled()) {  // the CPU reference on the downloaded logits (GQA_GPU_TOP_K=0)
    const int64_t n = logits.dim(1);
    std::vector<float> host(m * n);
    download_f32(logits, host.data());
    cpu::top_k_rows(host.data(), m, n, k, temperature, rows.data());
    return rows;
  }
  if (!top_k_out_.defined() || top_k_out_.numel() < m * width) top_k_out_ = alloc(DType::kF32, {m * width});
  const Tensor out = top_k_out_.slice_rows(0, m * width).reshape({m, width});
  top_k({logits, out, k, temperature}, stream_);
  copy_to_host(out, rows.data(), stream_);  // synchronises the stream
  staging_->reset();                         // so the pinned upload ring can start over
  return rows;
}

}  // namespace gqa::cuda
