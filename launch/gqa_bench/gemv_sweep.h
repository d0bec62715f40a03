// gqa-bench's GEMV sweep: the decode step's GEMVs (and the whole step) under every launch
// cuda::set_gemv_tuning can force: 1, 2, 4 or 8 warps per row group or the plan's, with 8 or (at
// batch <= 2) 16 loads in flight per thread: the data for tuning the plan (kernels/cuda/gemv_kernel.cuh).
#pragma once

#include <vector>

#include "launch/gqa_bench/bench_env.h"
#include "launch/gqa_bench/decode_bench.h"
#include "model/model.h"
#include "model/weights.h"

namespace gqa::bench {

// On the first batch-1 case of `cases` that ran (the GEMVs' shapes do not depend on the context),
// within the deadline; a table of its own, saved after each row. `ring`: the default and the
// opt-in ring build alone (a table of its own after the other decode sections: main.cpp).
void report_gemv_sweep(BenchEnv& env, Model& model, const ModelWeights& w, const std::vector<DecodeCaseResult>& cases,
                       const Deadline& deadline, bool ring);

}  // namespace gqa::bench
