#include "kernels/cuda/pdl.h"

#include <atomic>

#include "kernels/cuda/cuda_check.h"

namespace gqa::cuda {
namespace {

std::atomic<bool>& pdl_flag() {
  static std::atomic<bool> flag{env_switch("GQA_PDL", true)};  // on unless GQA_PDL=0
  return flag;
}

}  // namespace

bool pdl_enabled() { return pdl_flag().load(std::memory_order_relaxed); }
void set_pdl(bool on) { pdl_flag().store(on, std::memory_order_relaxed); }

}  // namespace gqa::cuda
