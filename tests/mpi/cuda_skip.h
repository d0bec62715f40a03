// Whether every rank of an MPI test can run the CUDA backend with a given communicator kind.
#pragma once

#include <string>

#include "parallel/bootstrap.h"
#include "parallel/mpi_communicator.h"
#include "runtime/backend.h"
#include "runtime/communicator_factory.h"

namespace gqa::test {

// Empty when every rank can run `kind` on the CUDA backend; else why not (the same on all ranks,
// so they skip together). Collective: every rank must call it.
inline std::string cuda_skip_reason(const std::string& kind, const MpiSession& session) {
  MpiCommunicator world;
  if (!world.all_ok(cuda_device_count() > 0)) return "not every rank sees a CUDA device";
  if (kind == "nccl") {
    if (!nccl_built()) return "this build has no NCCL";
    if (!world.all_ok(session.local_size() <= cuda_device_count())) return "ranks share a GPU (NCCL needs one each)";
  }
  return "";
}

}  // namespace gqa::test
