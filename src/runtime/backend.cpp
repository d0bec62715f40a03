#include "runtime/backend.h"

#include "core/error.h"
#include "kernels/cpu/cpu_ops.h"
#ifdef GQA_HAVE_CUDA
#include "kernels/cuda/device_info.h"
#endif

namespace gqa {

bool cuda_backend_built() {
#ifdef GQA_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#ifdef GQA_HAVE_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

// "auto" means cpu until the CUDA model ops land (CUDA backend issue); it then becomes
// "cuda when a device is visible".
std::string resolve_backend_name(const std::string& name) {
  if (name == "auto") return "cpu";
  return name;
}

std::unique_ptr<Ops> make_backend(const std::string& requested) {
  const std::string name = resolve_backend_name(requested);
  if (name == "cpu") return std::make_unique<cpu::CpuOps>();
  if (name == "cuda") {
    GQA_CHECK(cuda_backend_built(), "--backend cuda: this build has no CUDA backend (configure with nvcc present)");
    GQA_CHECK(cuda_device_count() > 0, "--backend cuda: no CUDA device is visible on this machine");
    GQA_FAIL("--backend cuda: the CUDA model ops are not implemented yet (tracked by the CUDA backend issue); "
             "use --backend cpu");
  }
  GQA_FAIL("unknown backend '" << requested << "' (expected cpu, cuda or auto)");
}

}  // namespace gqa
