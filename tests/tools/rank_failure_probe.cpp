// A job in which one rank fails while the others wait in a collective, handled the way
// gqa-generate handles an error after loading (catch, report, Communicator::abort).
// tests/cli/test_failure_propagation.sh checks the whole job ends promptly with a non-zero code.
//   mpirun -np 4 gqa_rank_failure_probe FAILING_RANK [stop [COLLECTIVE]]
// With `stop` the rank does not fail but stops (SIGSTOP: a hung rank that does not exit); the
// others end on the collective watch's limit (parallel/collective_watch.h, GQA_COLLECTIVE_TIMEOUT_S)
// inside COLLECTIVE: all_reduce_sum (default), broadcast, all_gather, barrier, all_ok (the
// Communicator's), session_all_ok or session_from_rank0 (MpiSession's, which gqa-generate calls
// before it makes a Communicator).
#include <csignal>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include "core/error.h"
#include "parallel/bootstrap.h"

namespace {

// One call of the named collective, every rank alike.
void collective(const std::string& name, gqa::Communicator& comm, const gqa::MpiSession& mpi, gqa::Tensor& t,
                gqa::Tensor& gathered) {
  if (name == "all_reduce_sum") {
    comm.all_reduce_sum(t);
  } else if (name == "broadcast") {
    comm.broadcast(t.data(), t.nbytes(), 0);
  } else if (name == "all_gather") {
    comm.all_gather(t, gathered);
  } else if (name == "barrier") {
    comm.barrier();
  } else if (name == "all_ok") {
    comm.all_ok(true);
  } else if (name == "session_all_ok") {
    mpi.all_ok(true);
  } else if (name == "session_from_rank0") {
    mpi.from_rank0(1);
  } else {
    GQA_FAIL("rank_failure_probe: no collective named " << name);
  }
}

}  // namespace

int main(int argc, char** argv) {
  gqa::MpiSession mpi(&argc, &argv);
  const int failing = argc > 1 ? std::stoi(argv[1]) : 1;
  const bool stop = argc > 2 && std::string(argv[2]) == "stop";
  const std::string which = argc > 3 ? argv[3] : "all_reduce_sum";
  auto comm = gqa::make_communicator("auto");
  try {
    gqa::Tensor t = gqa::Tensor::host(gqa::DType::kF32, {1024});
    gqa::Tensor gathered = gqa::Tensor::host(gqa::DType::kF32, {comm->size(), 1024});
    for (int step = 0; step < 1000000; ++step) {
      if (comm->rank() == failing && step == 3) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        if (stop) std::raise(SIGSTOP);
        GQA_FAIL("injected failure on rank " << failing << " at step " << step);
      }
      collective(which, *comm, mpi, t, gathered);  // the healthy ranks block here once the failing rank stops
    }
  } catch (const std::exception& e) {
    std::cerr << "rank_failure_probe: rank " + std::to_string(comm->rank()) + ": " + e.what() + "\n" << std::flush;
    comm->abort(3);
  }
  return 0;
}
