// A time limit on each wait in a collective of the MPI communicator and session: a rank whose peers
// stop without exiting (a stopped process, a hung device or node whose connection stays open)
// would otherwise wait in MPI forever, and the job with it. While a CollectiveWatch lives the rank
// is "in" that collective (the Model also watches each whole step at T > 1: with NCCL a rank waits
// for a hung peer on its GPU stream, not in MPI); one process-wide thread (started by the first
// watch when a limit is set) looks once a second (every 250 ms under a 4 s limit), and a rank in
// one watch for longer than the limit writes
//   gqa: rank R has waited N s in WHAT for the other ranks; ending the process (GQA_COLLECTIVE_TIMEOUT_S=L)
// to stderr and ends its process with exit status 1 (std::_Exit, as core/deadline.h: the calling
// thread is inside MPI; under mpirun a rank that exits before MPI_Finalize takes the job down).
// Time the process was stopped within the wait (SIGSTOP, a batch scheduler's suspend and resume:
// the watcher's tick came over a second late) does not count.
// The limit: GQA_COLLECTIVE_TIMEOUT_S (seconds; 0 or inf: none), by default kDefaultLimitS, far
// past any wait of a working job (ranks load their slices side by side, though the first wait after
// loading covers the difference between their load times; a step takes seconds), as
// torch.distributed's 10-30 minutes. A job whose ranks load a huge checkpoint at very different
// speeds, or whose steps are very slow (a large model on the CPU backend), raises it.
// A watch costs a clock read and three atomic stores; watches may nest (the outermost counts).
#pragma once

namespace gqa {

class CollectiveWatch {
 public:
  static constexpr double kDefaultLimitS = 1800;
  // what: a string literal naming the collective (kept as a pointer); rank: this rank's number in
  // the message. Never throws (it runs inside collectives): a GQA_COLLECTIVE_TIMEOUT_S that is not a
  // number >= 0 gets a warning on stderr (rank 0's) and the default; no thread to start, a warning and no watch.
  CollectiveWatch(int rank, const char* what);
  ~CollectiveWatch();
  CollectiveWatch(const CollectiveWatch&) = delete;
  CollectiveWatch& operator=(const CollectiveWatch&) = delete;

 private:
  bool counted_ = false;    // in g_depth (a limit is set)
  bool outermost_ = false;  // the watch whose start time counts
};

// The limit in seconds (GQA_COLLECTIVE_TIMEOUT_S, read once; 0: none; see CollectiveWatch). A bad
// value's warning is printed by the first call only where `warn` (CollectiveWatch: on rank 0 only,
// so a job prints it once, not once a rank).
double collective_timeout_s(bool warn = true);

}  // namespace gqa
