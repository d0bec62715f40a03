#include "kernels/cuda/pdl.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace gqa::cuda {
namespace {

std::atomic<bool>& pdl_flag() {
  static std::atomic<bool> flag{[] {
    const char* v = std::getenv("GQA_PDL");
    return v == nullptr || std::strcmp(v, "0") != 0;  // on unless GQA_PDL=0
  }()};
  return flag;
}

}  // namespace

bool pdl_enabled() { return pdl_flag().load(std::memory_order_relaxed); }
void set_pdl(bool on) { pdl_flag().store(on, std::memory_order_relaxed); }

}  // namespace gqa::cuda
