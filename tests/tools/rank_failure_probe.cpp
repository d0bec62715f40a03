// A job in which one rank fails while the others wait in a collective, handled the way
// gqa-generate handles an error after loading (catch, report, Communicator::abort).
// tests/cli/test_failure_propagation.sh checks the whole job ends promptly with a non-zero code.
//   mpirun -np 4 gqa_rank_failure_probe FAILING_RANK [stop]
// With `stop` the rank does not fail but stops (SIGSTOP: a hung rank that does not exit); the
// others end on the collective watch's limit (parallel/collective_watch.h, GQA_COLLECTIVE_TIMEOUT_S).
#include <csignal>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include "core/error.h"
#include "parallel/bootstrap.h"

int main(int argc, char** argv) {
  gqa::MpiSession mpi(&argc, &argv);
  const int failing = argc > 1 ? std::stoi(argv[1]) : 1;
  const bool stop = argc > 2 && std::string(argv[2]) == "stop";
  auto comm = gqa::make_communicator("auto");
  try {
    gqa::Tensor t = gqa::Tensor::host(gqa::DType::kF32, {1024});
    for (int step = 0; step < 1000000; ++step) {
      if (comm->rank() == failing && step == 3) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        if (stop) std::raise(SIGSTOP);
        GQA_FAIL("injected failure on rank " << failing << " at step " << step);
      }
      comm->all_reduce_sum(t);  // the healthy ranks block here once the failing rank stops
    }
  } catch (const std::exception& e) {
    std::cerr << "rank_failure_probe: rank " + std::to_string(comm->rank()) + ": " + e.what() + "\n" << std::flush;
    comm->abort(3);
  }
  return 0;
}
