// Choosing the compute backend by name.
#pragma once

#include <memory>
#include <string>

#include "kernels/ops.h"

namespace gqa {

bool cuda_backend_built();
int cuda_device_count();  // 0 without the CUDA build or without a GPU

// The GPU a rank uses: its node-local rank modulo the visible devices (ranks share GPUs round
// robin when there are more ranks than GPUs on the node). Requires cuda_device_count() > 0.
int cuda_device_for_local_rank(int local_rank);

// "cpu", "cuda", or "auto" (cuda when built and a GPU is visible, else cpu). Throws gqa::Error
// with the reason when the named backend cannot run here. local_rank (MpiSession::local_rank())
// picks the GPU; cuda_dtype is the CUDA backend's compute dtype (the CPU backend is always f32).
std::unique_ptr<Ops> make_backend(const std::string& name, int local_rank = 0, DType cuda_dtype = DType::kBF16);
std::string resolve_backend_name(const std::string& name);

// The switches of the CUDA backend's kernels, for a progress line: "PDL on (early trigger), prefill
// attention wgmma tma build (H100/H200; else mma.sync), decode GEMVs bulk copies, decode attention loader bulk,
// grouped, fused QKV+RoPE GEMV on, fused gate/up+SwiGLU GEMV on, opt-in kernels: none" or the
// opt-in kernels switched on (the GQA_* switches gqa-generate --help lists); "" without the CUDA
// build.
std::string cuda_kernel_switches();

}  // namespace gqa
