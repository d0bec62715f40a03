// gqa-bench's pass of the other decode kernel choices: for each (context, batch) the default
// section measured, the whole step with one opt-in kernel switch (or a set of them) against the
// default step timed again on the same fixture, each cell with the kernels its graph launches per
// layer, "n/a" where the switch leaves the step's kernels as they were (it does not serve that
// shape), and a failing choice's error in its own cell. Then the GEMV launch sweep. It runs as a
// section of its own after the shard's other sections (main.cpp): many choices were first run
// there, and a kernel that traps poisons the process's CUDA context for whatever comes after it.
#pragma once

#include <vector>

#include "launch/gqa_bench/bench_env.h"
#include "launch/gqa_bench/decode_bench.h"
#include "model/model.h"
#include "model/weights.h"

namespace gqa::bench {

// Over `cases` (the decode section's results, filled in place) within `seconds`, the table saved
// after each case, then the GEMV launch sweep (gemv_sweep.h; its ring build's table comes after the
// other decode sections: main.cpp).
void bench_decode_choices(BenchEnv& env, Model& model, const ModelWeights& w, std::vector<DecodeCaseResult>& cases,
                          double seconds);

}  // namespace gqa::bench
