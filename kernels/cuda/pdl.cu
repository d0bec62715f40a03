#include "kernels/cuda/pdl.h"

#include <atomic>

#include "kernels/cuda/cuda_check.h"

namespace gqa::cuda {
namespace {

ProcessSwitch& pdl_flag() {
  static ProcessSwitch s{"GQA_PDL", true};  // on unless GQA_PDL=0
  return s;
}

}  // namespace

bool pdl_enabled() { return pdl_flag().get(); }
void set_pdl(bool on) { pdl_flag().set(on); }

}  // namespace gqa::cuda
