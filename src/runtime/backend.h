// Choosing the compute backend by name.
#pragma once

#include <memory>
#include <string>

#include "kernels/ops.h"

namespace gqa {

bool cuda_backend_built();
int cuda_device_count();  // 0 without the CUDA build or without a GPU

// "cpu", "cuda", or "auto" (cuda when built and a GPU is present, else cpu). Throws gqa::Error
// with the reason when the named backend cannot run here.
std::unique_ptr<Ops> make_backend(const std::string& name);
std::string resolve_backend_name(const std::string& name);

}  // namespace gqa
