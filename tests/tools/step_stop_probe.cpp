// A decode job in which one rank stops (SIGSTOP: a hung rank that does not exit) between two steps
// while the others go into the next one: on the CPU backend a step's all-reduces are MPI calls, each
// under its own collective watch, and the Model watches the whole step at T > 1 (what a rank whose
// NCCL peer hangs waits in). The outermost watch counts, so the others must end on
// GQA_COLLECTIVE_TIMEOUT_S naming the step, not the all-reduce inside it.
// tests/cli/test_failure_propagation.sh runs it.
//   mpirun -np T gqa_step_stop_probe MODEL_DIR STOPPING_RANK
#include <csignal>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "core/error.h"
#include "model/model.h"
#include "parallel/bootstrap.h"
#include "runtime/backend.h"
#include "runtime/kv_cache.h"
#include "tests/support/fixture_model.h"

int main(int argc, char** argv) {
  gqa::MpiSession mpi(&argc, &argv);
  if (argc != 3) {
    std::cerr << "usage: gqa_step_stop_probe MODEL_DIR STOPPING_RANK\n";
    return 2;
  }
  const std::string dir = argv[1];
  const int stopping = std::stoi(argv[2]);
  auto comm = gqa::make_communicator("auto");
  try {
    auto ops = gqa::make_backend("cpu");
    const std::unique_ptr<gqa::Model> model_ptr = gqa::test::fixture_model(dir, *ops, *comm);
    gqa::Model& model = *model_ptr;
    constexpr int kBlocks = 8, kBlockSize = 4;
    gqa::PagedKvCache cache(model.kv_cache_shape(kBlocks, kBlockSize), gqa::DType::kF32, *ops);
    gqa::StepInput in;
    in.token_seq = {0};
    in.logit_rows = {0};
    in.block_tables = {{0, 1, 2, 3, 4, 5, 6, 7}};  // (kBlocks of them: slot = position)
    for (int pos = 0; pos < kBlocks * kBlockSize; ++pos) {
      if (comm->rank() == stopping && pos == 3) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        std::raise(SIGSTOP);
      }
      in.tokens = {1 + pos % 7};
      in.positions = {pos};
      in.slots = {pos};
      model.forward(in, cache);  // the other ranks block in this step once the stopping rank stops
    }
    GQA_FAIL("step_stop_probe: every step ran; rank " << stopping << " never stopped");
  } catch (const std::exception& e) {
    std::cerr << "step_stop_probe: rank " + std::to_string(comm->rank()) + ": " + e.what() + "\n" << std::flush;
    comm->abort(3);
  }
  return 0;
}
