// Choosing the communicator for a backend: the CUDA backend needs communicators that take device
// buffers (parallel/nccl/), the CPU backend the host ones (parallel/bootstrap.h).
#pragma once

#include <memory>
#include <string>

#include "parallel/bootstrap.h"
#include "parallel/communicator.h"

namespace gqa {

bool nccl_built();  // NcclCommunicator is in this build (CUDA build with NCCL found)

// kind: "auto", "single", "mpi" or "nccl"; backend: the resolved backend name ("cpu"/"cuda").
//   cpu backend:  make_communicator(kind) (nccl refused: it needs --backend cuda).
//   cuda backend: "single" = one rank; "mpi" = MPI with device buffers staged through pinned
//                 host memory (ranks may share a GPU); "nccl" = NCCL, one GPU per rank;
//                 "auto" = nccl when NCCL is built and every node has at least as many GPUs as
//                 ranks (decided on every rank together), else mpi. (Single refuses device
//                 buffers, so auto never picks it for the CUDA backend, even on one rank.)
// Collective over MPI_COMM_WORLD when it returns a multi-rank communicator.
std::unique_ptr<Communicator> make_communicator_for(const std::string& kind, const std::string& backend,
                                                    const MpiSession& session);

}  // namespace gqa
