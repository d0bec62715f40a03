#include "launch/argument_agreement.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/hash.h"
#include "runtime/backend.h"
#include "runtime/prefill_chunk.h"

namespace gqa {

namespace {

const char* const kWhy = "mpirun must give every rank the same arguments";

void say(const std::string& line) { std::cerr << line + "\n" << std::flush; }  // (one write a line)

// Where some rank's parse stopped (parsed >= 0): each stopped rank's line, and one exit status on
// every rank, so that mpirun's (the first rank to end) does not depend on which rank that is: 2
// where any rank's flags were wrong, else 1 where a file they name was (--prompt-file), else 0 where
// every rank stopped at --help / --version, and 2 where only some did (a launch that gave the ranks
// different arguments). -1 where every rank's parse went on.
int agree_on_parse(const MpiSession& mpi, int argc, char** argv, int parsed, GenerateOptions& opts) {
  if (mpi.all_ok(parsed < 0)) return -1;
  const int rank = mpi.world_rank();
  const bool rank0_went_on = mpi.from_rank0(parsed < 0 ? 1 : 0) == 1;
  if (rank != 0 && parsed >= 0 && rank0_went_on) {  // its own message was not printed (rank 0 prints)
    std::ostringstream its_own;  // (its error under this line, in one write: no other rank's line between)
    parse_generate_options(argc, argv, true, &opts, its_own);
    std::string said = its_own.str();
    while (!said.empty() && said.back() == '\n') said.pop_back();
    say("gqa-generate: rank " + std::to_string(rank) + " stopped on its arguments or a file they name (" + kWhy +
        ", and each rank the files they name):\n" + said);
  } else if (rank == 0 && parsed < 0) {
    say(std::string("gqa-generate: another rank stopped on its arguments or a file they name (") + kWhy +
        ", and each rank the files they name)");
  }
  if (!mpi.all_ok(parsed != 2)) return 2;
  if (!mpi.all_ok(parsed != 1)) return 1;
  return mpi.all_ok(parsed >= 0) ? 0 : 2;
}

// The backend as this rank resolves it (--backend auto on a node without a usable GPU is cpu): the
// ranks must agree on it first, and one that differs names both (not "arguments differ": its
// arguments may be rank 0's, its node not). -1 to go on, `backend` resolved ("unresolved" where
// resolving failed on every rank: the error then comes when the backend is made).
int agree_on_backend(const MpiSession& mpi, const GenerateOptions& opts, std::string& backend) {
  const int rank = mpi.world_rank();
  const std::vector<std::string> backends = {"cpu", "cuda", "unresolved"};
  std::string backend_error;
  try {
    backend = resolve_backend_name(opts.backend);
  } catch (const std::exception& e) {
    backend = "unresolved";
    backend_error = e.what();
  }
  const auto index = static_cast<uint64_t>(std::find(backends.begin(), backends.end(), backend) - backends.begin());
  const uint64_t rank0s_backend = mpi.from_rank0(index);
  if (mpi.all_ok(index == rank0s_backend)) return -1;
  // The same --backend everywhere: the machines differ (exit 1); else the launch's arguments (2).
  const uint64_t flag = fnv1a64(opts.backend);
  const bool same_flag = mpi.all_ok(flag == mpi.from_rank0(flag));
  if (index != rank0s_backend) {
    const std::string theirs = rank0s_backend < backends.size() ? backends[rank0s_backend] : "another";
    say("gqa-generate: rank " + std::to_string(rank) + ": --backend " + opts.backend + " gives the " + backend +
        " backend here" + (backend_error.empty() ? "" : " (" + backend_error + ")") + " but the " + theirs +
        " backend on rank 0 (every rank must run the same backend: give each a GPU, or pass --backend cpu)");
  } else if (rank == 0) {
    say("gqa-generate: another rank's backend differs from rank 0's " + backend + " backend" +
        (backend_error.empty() ? "" : " (rank 0: " + backend_error + ")"));
  }
  return same_flag ? 1 : 2;
}

// The flags first (exit 2), then what the prompt files held (a file's contents: exit 1); -1 where
// every rank's equal rank 0's. `resolved`: the options with the agreed backend.
int agree_on_settings(const MpiSession& mpi, const GenerateOptions& resolved) {
  const int rank = mpi.world_rank();
  const FlagSettings settings = collective_settings(resolved, /*with_file_prompt=*/false);
  const uint64_t mine = fnv1a64(joined_settings(settings));
  const uint64_t rank0s = mpi.from_rank0(mine);
  if (!mpi.all_ok(mine == rank0s)) {
    // Which flag: every rank compares each setting with rank 0's (the same flags, in the same
    // order, on every rank: as many collectives on each).
    std::string differs;
    for (const auto& [flag, value] : settings) {
      const uint64_t h = fnv1a64(value);
      if (h != mpi.from_rank0(h) && differs.empty()) differs = flag;
    }
    if (mine != rank0s) {
      say("gqa-generate: rank " + std::to_string(rank) + ": its arguments differ from rank 0's" +
          (differs.empty() ? "" : " in " + differs) + " (" + kWhy + ")");
    } else if (rank == 0) {
      say(std::string("gqa-generate: another rank's arguments differ from rank 0's (") + kWhy + ")");
    }
    return 2;
  }
  const uint64_t prompt = fnv1a64(joined_settings(collective_settings(resolved, /*with_file_prompt=*/true)));
  const uint64_t rank0s_prompt = mpi.from_rank0(prompt);
  if (mpi.all_ok(prompt == rank0s_prompt)) return -1;
  const std::string files = "every rank reads the prompt file: each node needs the same copy";
  if (prompt != rank0s_prompt) {
    say("gqa-generate: rank " + std::to_string(rank) + ": the prompt its " + resolved.prompt_file_flag + " " +
        resolved.prompt_file + " holds differs from rank 0's (" + files + ")");
  } else if (rank == 0) {
    say("gqa-generate: another rank's prompt file holds another prompt than rank 0's (" + files + ")");
  }
  return 1;
}

}  // namespace

int agree_on_arguments(const MpiSession& mpi, int argc, char** argv, int parsed, GenerateOptions& opts) {
  if (const int status = agree_on_parse(mpi, argc, argv, parsed, opts); status >= 0) return status;
  std::string backend;
  if (const int status = agree_on_backend(mpi, opts, backend); status >= 0) return status;
  GenerateOptions resolved = opts;
  resolved.backend = backend;  // (--backend auto here and cpu there agree where both give cpu)
  if (const int status = agree_on_settings(mpi, resolved); status >= 0) return status;
  // Resolved once here: the communicator, the backend and the loading line (gqa_generate.cpp) all use
  // this name.
  if (backend != "unresolved") opts.backend = backend;
  // (every rank the same: the settings and the resolved backend agreed above)
  if (opts.prefill_chunk == 0) opts.prefill_chunk = auto_prefill_chunk(opts.backend, !opts.dump_logits.empty());
  return -1;
}

}  // namespace gqa
