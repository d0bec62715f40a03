// The smallest use of the library: load a checkpoint on one rank (or T ranks under mpirun),
// generate greedily from a few token ids and print them.
//   build/bin/example_generate_tokens tests/fixtures/models/gqa 1 2 3
#include <cstdint>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/model.h"
#include "parallel/bootstrap.h"
#include "runtime/backend.h"
#include "runtime/generator.h"

int main(int argc, char** argv) {
  gqa::MpiSession mpi(&argc, &argv);
  if (argc < 3) {
    if (mpi.world_rank() == 0) std::cerr << "usage: " << argv[0] << " MODEL_DIR TOKEN_ID [TOKEN_ID...]\n";
    return 2;
  }
  std::unique_ptr<gqa::Communicator> comm;
  try {
    comm = gqa::make_communicator("auto");
    const std::string dir = argv[1];
    const gqa::ModelConfig config = gqa::ModelConfig::from_file(dir + "/config.json");
    const gqa::ShardPlan plan = gqa::ShardPlan::make(config.shard_dims(), comm->size());
    auto ops = gqa::make_backend("cpu");
    const gqa::Checkpoint ckpt = gqa::Checkpoint::open(dir);
    gqa::Model model(config, plan, *ops, *comm, gqa::load_weights(ckpt, config, plan, comm->rank(), *ops));
    gqa::PagedKvCache cache(model.kv_cache_shape(/*num_blocks=*/64, /*block_size=*/16), ops->compute_dtype(), *ops);

    gqa::GenerateRequest req;
    for (int i = 2; i < argc; ++i) {  // (the model checks each id against its vocabulary)
      const std::string arg = argv[i];
      // digits only (no sign, no space), at most int32's 10
      const bool digits = !arg.empty() && arg.size() <= 10 && arg.find_first_not_of("0123456789") == std::string::npos;
      const long long id = digits ? std::stoll(arg) : -1;
      if (id < 0 || id > INT32_MAX) throw std::runtime_error("'" + arg + "' is not a token id");
      req.prompt.push_back(static_cast<int32_t>(id));
    }
    req.max_new_tokens = 8;
    gqa::Generator gen(model, cache, *comm);
    const gqa::GenerateResult res = gen.generate(req, [&](int32_t tok) {
      if (comm->rank() == 0) std::cout << tok << " " << std::flush;
    });
    if (comm->rank() == 0) std::cout << "(" << res.finish_reason << ")\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    // Under mpirun the other ranks may be waiting in a collective for this one: end the job.
    if (comm && comm->size() > 1) comm->abort(1);
    return 1;
  }
  return 0;
}
