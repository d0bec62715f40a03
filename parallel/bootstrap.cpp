#include "parallel/bootstrap.h"

#include <mpi.h>

#include "core/error.h"
#include "core/host_memory.h"
#include "parallel/collective_watch.h"
#include "parallel/mpi_check.h"
#include "parallel/mpi_communicator.h"
#include "parallel/single_communicator.h"

namespace gqa {
namespace {

// World size when MPI is up, 0 when it is not (not initialized, or already finalized).
int mpi_world_size() {
  int initialized = 0;
  int finalized = 0;
  GQA_MPI_CHECK(MPI_Initialized(&initialized));
  GQA_MPI_CHECK(MPI_Finalized(&finalized));
  if (!initialized || finalized) return 0;
  int size = 0;
  GQA_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size));
  return size;
}

}  // namespace

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialized = 0;
  GQA_MPI_CHECK(MPI_Initialized(&initialized));
  if (initialized) {
    GQA_MPI_CHECK(MPI_Query_thread(&thread_level_));
  } else {
    GQA_MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &thread_level_));
    owns_mpi_ = true;
  }
  try {
    GQA_CHECK(thread_level_ >= MPI_THREAD_FUNNELED,
              "MPI provides thread level " << thread_level_ << ", need at least MPI_THREAD_FUNNELED");
    query_ranks();
  } catch (...) {
    if (owns_mpi_) MPI_Finalize();  // the destructor will not run for a half-built session
    throw;
  }
}

void MpiSession::query_ranks() {
  GQA_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank_));
  GQA_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world_size_));
  // Processes that can share memory are on one node: their rank there picks the GPU.
  MPI_Comm node = MPI_COMM_NULL;
  GQA_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank_,
                                    MPI_INFO_NULL, &node));
  GQA_MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
  GQA_MPI_CHECK(MPI_Comm_size(node, &local_size_));
  GQA_MPI_CHECK(MPI_Comm_free(&node));
  set_processes_on_this_machine(local_size_);  // (host memory checks: each rank its share)
}

bool MpiSession::all_ok(bool ok) const {
  if (world_size_ == 1) return ok;
  const CollectiveWatch watch(world_rank_, "MPI_Allreduce (the ranks' agreement on their arguments)");
  int mine = ok ? 1 : 0, all = 0;
  GQA_MPI_CHECK(MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD));
  return all != 0;
}

uint64_t MpiSession::from_rank0(uint64_t v) const {
  if (world_size_ > 1) {
    const CollectiveWatch watch(world_rank_, "MPI_Bcast (rank 0's settings)");
    GQA_MPI_CHECK(MPI_Bcast(&v, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD));
  }
  return v;
}

MpiSession::~MpiSession() {
  // (teardown: statuses ignored, a destructor must not throw)
  int finalized = 1;
  MPI_Finalized(&finalized);
  if (owns_mpi_ && !finalized) MPI_Finalize();
}

std::unique_ptr<Communicator> make_communicator(const std::string& kind) {
  const int world = mpi_world_size();
  if (kind == "auto") {
    if (world > 1) return std::make_unique<MpiCommunicator>();
    return std::make_unique<SingleCommunicator>();
  }
  if (kind == "single") {
    GQA_CHECK(world <= 1, "--comm single cannot run a job of " << world
                                                               << " ranks; use --comm mpi or auto");
    return std::make_unique<SingleCommunicator>();
  }
  if (kind == "mpi") {
    GQA_CHECK(world > 0, "--comm mpi: MPI is not initialized (create a gqa::MpiSession first)");
    return std::make_unique<MpiCommunicator>();
  }
  if (kind == "nccl") GQA_FAIL("NCCL communicator needs the CUDA build; use --comm mpi");
  GQA_FAIL("unknown communicator '" << kind << "': accepted are auto, single, mpi, nccl");
}

}  // namespace gqa
