// Whether every rank of an MPI test can run the CUDA backend with a given communicator kind.
#pragma once

#include <exception>
#include <string>

#include "core/error.h"

#include "parallel/bootstrap.h"
#include "parallel/mpi_communicator.h"
#include "runtime/backend.h"
#include "runtime/communicator_factory.h"

namespace gqa::test {

// Empty when every rank can run `kind` on the CUDA backend; else why not (the same on all ranks,
// so they skip together). Collective: every rank must call it.
// (cuda_device_count can throw: GQA_REQUIRE_GPU without a device, a broken driver. Every rank then
// throws together, never one alone before the others' collective.)
inline std::string cuda_skip_reason(const std::string& kind, const MpiSession& session) {
  MpiCommunicator world;
  int count = 0;
  std::string error;
  try {
    count = cuda_device_count();
  } catch (const std::exception& e) {
    error = e.what();
  }
  throw_unless_all_ok(world.all_ok(error.empty()), error, "another rank could not count its CUDA devices");
  if (!world.all_ok(count > 0)) return "not every rank sees a CUDA device";
  if (kind == "nccl") {
    if (!nccl_built()) return "this build has no NCCL";
    if (!world.all_ok(session.local_size() <= count)) return "ranks share a GPU (NCCL needs one each)";
  }
  return "";
}

}  // namespace gqa::test
