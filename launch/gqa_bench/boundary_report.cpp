// gqa-bench's section on what a dependency between two phases costs (boundary_cost.h measures it).
#include <algorithm>
#include <string>

#include "launch/gqa_bench/bench_env.h"
#include "launch/gqa_bench/boundary_cost.h"

namespace gqa::bench {

void report_boundary_costs(BenchEnv& env) {
  TimingOptions t = env.timing;
  t.runs = std::max(20, t.runs);
  const BoundaryCosts bc = boundary_costs(env.stream, t);
  const std::string how = strf(
      "%d phases of %d blocks x 256 threads (one per SM); each block's warp reads the value every block wrote in the "
      "phase before (through the L2: an all-to-all dependency, as a GEMV reads all of x) and writes its own; median of "
      "%d, time / phases",
      bc.phases, bc.blocks, t.runs);
  Table bound({"dependency between phases", "us per phase", "how"});
  bound.row({"a kernel per phase, in a CUDA graph", strf("%.2f", bc.kernels_us), how});
  bound.row({"the same, programmatic dependent launch", strf("%.2f", bc.kernels_pdl_us),
             "each kernel waits (griddepcontrol.wait), then lets its successor launch: the decode GEMVs' order"});
  bound.row({"one kernel, a global counter between phases", strf("%.2f", bc.counter_us),
             "a cooperative launch (every block resident); before each phase thread 0 polls an acquire load of the "
             "counter until every block has released the phase before (red.release.gpu.add), then a block barrier"});
  env.report.heading("Dependencies between kernels and inside one");
  env.report.line(std::string("What a dependency between two phases of a step costs, on empty phases (a decode step "
                              "of the 70B shard has ~8 a layer, 80 layers): the kernel boundaries a persistent decode "
                              "kernel would replace, against the counter it would pass instead (timed last: the "
                              "counter kernel is the only one here whose blocks wait on each other); ") +
                  (bc.results_match ? "every variant's last phase held the host's values (16 checked launches from zeroed "
                                      "rows, then the timed ones):"
                                    : "WRONG RESULTS: a variant's last phase differs from the host's values:"));
  env.report.table(bound);
  env.report.save();
}

}  // namespace gqa::bench
