// gqa-generate's ranks agreeing on their arguments before any collective of the model: the parse,
// the backend each resolves, rank 0's settings and what its prompt files hold.
#pragma once

#include "launch/generate_options.h"
#include "parallel/bootstrap.h"

namespace gqa {

// mpirun normally gives every rank the same argv, but a launch may not (an MPMD launch, one rank
// with --help): ranks that took different paths would wait in different collectives. So the ranks
// agree on the parse, then on rank 0's settings (collective_settings), and stop together, each
// that differs saying so. Returns -1 to go on (opts.backend then resolved: no "auto"), else the
// exit code.
int agree_on_arguments(const MpiSession& mpi, int argc, char** argv, int parsed, GenerateOptions& opts);

}  // namespace gqa
