// gqa-bench's command line and how its time budget is shared out among the sections.
#pragma once

#include <string>

#include "launch/gqa_bench/bench_env.h"

namespace gqa::bench {

// Weights of the sections in the budget: a section gets remaining * its share / the shares of
// the sections still to come, so time one section leaves unused goes to the later ones.
constexpr double kDecodeShare = 2, kPrefillShare = 3, kSpectrumShare = 1, kSdpaShare = 1, kModel8bShare = 4;
// After the shard's other sections: the prefill attention by kernel build and the decode kernel
// choices with the GEMV sweep, then the producer build's ablation and the ring GEMV build's table.
constexpr double kPrefillOptInShare = 1.2, kDecodeChoicesShare = 1.3;
constexpr double kPrefillProducerAblationShare = 0.3, kDecodeRingShare = 0.2;
// Last of all: the TMA build's ablation (its variants' rows last).
constexpr double kPrefillTmaAblationShare = 0.3;
double total_shares(const Options& o);

// Fills `opt` from argv (CLI11): -1 to go on, else the exit status after --help or --version (0,
// printed) or a usage error (2, said on stderr with a pointer to --help).
int parse_options(int argc, char** argv, Options& opt);

}  // namespace gqa::bench
