// gqa-attn-bench's command line (CLI11, in a host-compiled file: attn_bench.cu is nvcc's).
#pragma once

#include <cstdint>

namespace gqa {

struct AttnBenchOptions {
  bool check = false;
  int runs = 30;
  int warmup = 5;
  int splits = 0;  // 0: the kernel's own plan; > 0: forced (tuning)
  bool sweep = false;
  int64_t context = 0;  // > 0: only the cases of this context (e.g. one shape under a profiler)
  int64_t batch = 0;    // > 0: only the cases of this batch
};

// Fills `opt` from argv: -1 to go on, else the exit status after --help or --version (0, printed)
// or a usage error (2, said on stderr with a pointer to --help).
int parse_attn_bench_options(int argc, char** argv, AttnBenchOptions& opt);

}  // namespace gqa
