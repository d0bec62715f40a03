// Process bootstrap: MPI lifetime, node-local rank (picks the GPU later), communicator choice.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "parallel/communicator.h"

namespace gqa {

// RAII MPI lifetime. Initializes MPI (thread level SERIALIZED requested, FUNNELED at least
// required) unless someone already did, and finalizes it only if this session initialized it.
// Create one in main() before any communicator; destroy communicators before it.
class MpiSession {
 public:
  MpiSession(int* argc = nullptr, char*** argv = nullptr);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int world_rank() const { return world_rank_; }
  int world_size() const { return world_size_; }
  int local_rank() const { return local_rank_; }  // rank among processes on this node
  int local_size() const { return local_size_; }
  int thread_level() const { return thread_level_; }  // MPI_THREAD_* provided

  // Collectives over MPI_COMM_WORLD, for agreeing before a communicator exists (every rank calls
  // them): whether `ok` holds on every rank, and rank 0's value of v.
  bool all_ok(bool ok) const;
  uint64_t from_rank0(uint64_t v) const;

 private:
  void query_ranks();

  bool owns_mpi_ = false;
  int world_rank_ = 0;
  int world_size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  int thread_level_ = 0;
};

// kind: "auto" (mpi when MPI is initialized with more than one rank, else single), "single"
// (refused when the job has more than one rank), "mpi" (needs an MpiSession), "nccl" (refused:
// needs the CUDA build). Anything else is refused with the accepted list.
std::unique_ptr<Communicator> make_communicator(const std::string& kind);

}  // namespace gqa
