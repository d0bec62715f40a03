#include "parallel/single_communicator.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "core/error.h"
#include "parallel/collective_checks.h"

namespace gqa {

void SingleCommunicator::all_reduce_sum(Tensor& t, void* /*stream*/) {
  detail::check_all_reduce_args(t, "single");  // the sum over one rank is the tensor itself
}

void SingleCommunicator::broadcast(void* data, size_t bytes, int root) {
  detail::check_root(root, 1, "single");
  GQA_CHECK(data != nullptr || bytes == 0, "single broadcast: null data for " << bytes << " bytes");
}

void SingleCommunicator::all_gather(const Tensor& in, Tensor& out, void* /*stream*/) {
  detail::check_all_gather_args(in, out, 1, "single");
  GQA_CHECK(in.device() == Device::kCpu,
            "single all_gather: device buffers need the CUDA build (got a CUDA tensor)");
  if (in.nbytes() > 0 && out.data() != in.data()) std::memmove(out.data(), in.data(), in.nbytes());
}

void SingleCommunicator::abort(int exit_code) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(exit_code == 0 ? 1 : exit_code);
}

}  // namespace gqa
