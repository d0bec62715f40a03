// gqa-bench's command line and how its time budget is shared out among the sections.
#pragma once

#include <string>

#include "launch/gqa_bench/bench_env.h"

namespace gqa::bench {

// Weights of the sections in the budget: a section gets remaining * its share / the shares of
// the sections still to come, so time one section leaves unused goes to the later ones.
constexpr double kDecodeShare = 2, kPrefillShare = 3, kSpectrumShare = 1, kSdpaShare = 1, kModel8bShare = 4;
constexpr double kPrefillOptInShare = 1;   // the wgmma prefill attention, after the shard's other sections
constexpr double kDecodeChoicesShare = 1;  // the decode kernel choices and GEMV sweep, after those
double total_shares(const Options& o);

std::string usage();
// Fills `opt` from argv; false for --help (usage printed); throws gqa::Error for a bad flag.
bool parse_options(int argc, char** argv, Options& opt);

}  // namespace gqa::bench
