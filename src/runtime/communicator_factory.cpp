#include "runtime/communicator_factory.h"

#include <functional>
#include <string>

#include "core/error.h"
#include "parallel/mpi_communicator.h"
#include "runtime/backend.h"
#ifdef GQA_HAVE_CUDA
#include "parallel/nccl/mpi_device_communicator.h"
#ifdef GQA_HAVE_NCCL
#include "parallel/nccl/nccl_communicator.h"
#endif
#endif

namespace gqa {

bool nccl_built() {
#if defined(GQA_HAVE_CUDA) && defined(GQA_HAVE_NCCL)
  return true;
#else
  return false;
#endif
}

namespace {

#ifdef GQA_HAVE_CUDA
// `check` on every rank, then the same outcome on every rank (agree_or_throw): its error (a
// RankError) on a rank where it threw, `others_failed` (an AgreedError) on the others, one
// AgreedError that rank 0 prints where it threw on every rank. (A rank throwing on its own before
// a collective would leave the others waiting in it.)
void agree_on(const MpiSession& session, const std::function<void()>& check, const char* others_failed) {
  std::string error;
  try {
    check();
  } catch (const std::exception& e) {
    error = e.what();
  }
  agree_or_throw([&](bool ok) { return session.all_ok(ok); }, session.world_rank(), session.world_size(), error,
                 others_failed);
}

// True on every rank iff every rank's node has a GPU of its own for each of its ranks.
bool every_rank_has_own_gpu(const MpiSession& session) {
  bool own = false;
  agree_on(session, [&] { own = session.local_size() <= cuda_device_count(); },
           "another rank could not count its CUDA devices");
  return session.all_ok(own);
}

std::unique_ptr<Communicator> make_nccl(const MpiSession& session) {
#ifdef GQA_HAVE_NCCL
  int device = -1;
  agree_on(session, [&] { device = cuda_device_for_local_rank(session.local_rank()); },
           "--comm nccl: another rank has no CUDA device to use");
  return std::make_unique<NcclCommunicator>(device);
#else
  (void)session;
  GQA_FAIL("--comm nccl: this build has no NCCL (not found at configure time); use --comm mpi");
#endif
}

std::unique_ptr<Communicator> make_cuda_communicator(const std::string& kind, const MpiSession& session) {
  if (kind == "single") return make_communicator("single");
  if (kind == "mpi") return std::make_unique<MpiDeviceCommunicator>();
  if (kind == "nccl") return make_nccl(session);
  if (kind == "auto") {
    if (nccl_built() && every_rank_has_own_gpu(session)) return make_nccl(session);
    return std::make_unique<MpiDeviceCommunicator>();
  }
  return make_communicator(kind);  // refuses unknown kinds with the accepted list
}
#endif

}  // namespace

std::unique_ptr<Communicator> make_communicator_for(const std::string& kind, const std::string& backend,
                                                    const MpiSession& session) {
  if (backend == "cuda") {
#ifdef GQA_HAVE_CUDA
    return make_cuda_communicator(kind, session);
#else
    GQA_FAIL("--backend cuda: this build has no CUDA backend (configure with nvcc present)");
#endif
  }
  GQA_CHECK(kind != "nccl", "--comm nccl needs the cuda backend (NCCL moves GPU buffers), and this job runs on the "
                            << backend << " backend (--backend auto picks cpu where this build has no CUDA backend or "
                            << "no CUDA device is visible); use --comm mpi");
  (void)session;
  return make_communicator(kind);
}

}  // namespace gqa
