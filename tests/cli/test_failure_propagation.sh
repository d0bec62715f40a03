#!/usr/bin/env bash
# One rank fails while the others sit in an all-reduce: the whole job must end within seconds
# with a non-zero exit and the failing rank's message, never hang. Run for each failing rank.
# usage: test_failure_propagation.sh BUILD_BIN_DIR
set -uo pipefail
probe="${1:?usage: $0 BUILD_BIN_DIR}/../tests/gqa_rank_failure_probe"
step_probe="$1/../tests/gqa_step_stop_probe"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
passed=0
failed=0
for failing in 0 1 3; do
  t0=$SECONDS
  timeout 60 mpirun --oversubscribe --bind-to none -np 4 "$probe" $failing >/dev/null 2>/tmp/probe.$$
  rc=$?
  dt=$((SECONDS - t0))
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $dt -le 20 ] && grep -q "injected failure on rank $failing" /tmp/probe.$$; then
    echo "PASS rank $failing fails -> job ends rc $rc in ${dt}s"
    passed=$((passed + 1))
  else
    echo "FAIL rank $failing fails -> rc $rc after ${dt}s"
    cat /tmp/probe.$$
    failed=$((failed + 1))
  fi
done
# A rank that stops without exiting (SIGSTOP): the others end on the collective watch's limit
# (GQA_COLLECTIVE_TIMEOUT_S, parallel/collective_watch.h) with a line naming what rank 0 waited in.
# expect_stop_named WHAT NAMED PROGRAM ARGS...: runs PROGRAM at -np 2 (rank 1 stops).
expect_stop_named() {
  local what=$1 named=$2 t0=$SECONDS rc dt
  shift 2
  GQA_COLLECTIVE_TIMEOUT_S=2 timeout 60 mpirun --oversubscribe --bind-to none -x GQA_COLLECTIVE_TIMEOUT_S -np 2 "$@" \
    </dev/null >/dev/null 2>/tmp/probe.$$  # (not a loop's stdin)
  rc=$?
  dt=$((SECONDS - t0))
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $dt -le 20 ] &&
     grep -qF "gqa: rank 0 has waited" /tmp/probe.$$ && grep -qF "s in $named for the other ranks" /tmp/probe.$$; then
    echo "PASS rank 1 stops $what -> rank 0 ends the job on GQA_COLLECTIVE_TIMEOUT_S naming it: rc $rc in ${dt}s"
    passed=$((passed + 1))
  else
    echo "FAIL rank 1 stops $what -> rc $rc after ${dt}s (want a line naming $named)"
    cat /tmp/probe.$$
    failed=$((failed + 1))
  fi
}
# In each collective the Communicator and MpiSession make.
while read -r which named; do
  expect_stop_named "in $which" "$named" "$probe" 1 stop "$which"
done <<'EOF_COLLECTIVES'
all_reduce_sum MPI_Allreduce (all_reduce_sum)
broadcast MPI_Bcast (broadcast)
all_gather MPI_Allgather (all_gather)
barrier MPI_Barrier (barrier)
all_ok MPI_Allreduce (all_ok)
session_all_ok MPI_Allreduce (the ranks' agreement on their arguments)
session_from_rank0 MPI_Bcast (rank 0's settings)
EOF_COLLECTIVES
# Between two decode steps (the fixture model on the CPU backend): rank 0 waits in an all-reduce
# inside its step and must name the step (the Model's watch at T > 1, the outermost), not the
# all-reduce.
expect_stop_named "between decode steps" "a step (with NCCL, its all-reduces wait for every rank)" \
  "$step_probe" tests/fixtures/models/gqa 1
rm -f /tmp/probe.$$
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
