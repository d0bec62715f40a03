// What one dependency between two phases of a decode step costs the device, measured on empty
// phases, three ways: a kernel per phase in a CUDA graph (as a decode step runs its ops), the
// same with programmatic dependent launch (each kernel waits, then lets its successor launch: the
// decode GEMVs' pattern), and one kernel whose co-resident blocks pass a global counter between
// phases (what a persistent decode kernel would pay instead of a kernel boundary). Each phase is
// an all-to-all dependency, as a GEMV reads all of x: every block reads the value every block
// wrote in the phase before (through the L2) and writes its own. A step of the 70B shard has ~8
// such boundaries a layer, 80 layers: the difference between the first two rows and the third,
// times ~640, is what a persistent kernel could take off a step at most from its boundaries.
#pragma once

#include <cuda_runtime.h>

#include "launch/gqa_bench/timing.h"

namespace gqa::bench {

struct BoundaryCosts {
  int blocks = 0;  // one per SM, 256 threads each
  int phases = 0;  // per timed run
  double kernels_us = 0;      // per phase: a kernel per phase, stream order
  double kernels_pdl_us = 0;  // per phase: a kernel per phase, programmatic dependent launch
  double counter_us = 0;      // per phase: one kernel, a global counter between phases
  // every variant's last phase held the host's values in 16 checked launches (each from zeroed
  // rows, so that a stale read shows) and after the timed ones
  bool results_match = false;
};

// Median of opt.runs graph replays / cooperative launches after opt.warmup, each time / phases.
BoundaryCosts boundary_costs(cudaStream_t stream, const TimingOptions& opt);

}  // namespace gqa::bench
