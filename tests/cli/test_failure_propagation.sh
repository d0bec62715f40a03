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
# expect_job_ends LABEL N TEXT_1 .. TEXT_N MPIRUN_ARGS...: the job must end within 20 s, not 0 and
# not by timeout, with each TEXT on its stderr.
expect_job_ends() {
  local label=$1 n=$2 t0=$SECONDS rc dt ok=1
  shift 2
  local texts=("${@:1:n}")
  shift "$n"
  timeout 60 mpirun --oversubscribe --bind-to none "$@" </dev/null >/dev/null 2>/tmp/probe.$$  # (not a loop's stdin)
  rc=$?
  dt=$((SECONDS - t0))
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $dt -le 20 ] || ok=0
  for text in "${texts[@]}"; do grep -qF -- "$text" /tmp/probe.$$ || ok=0; done
  if [ $ok -eq 1 ]; then
    echo "PASS $label: rc $rc in ${dt}s"
    passed=$((passed + 1))
  else
    echo "FAIL $label: rc $rc after ${dt}s (want: ${texts[*]})"
    cat /tmp/probe.$$
    failed=$((failed + 1))
  fi
}
for failing in 0 1 3; do
  expect_job_ends "rank $failing fails -> the job ends" 1 "injected failure on rank $failing" -np 4 "$probe" $failing
done
# A rank that stops without exiting (SIGSTOP): the others end on the collective watch's limit
# (GQA_COLLECTIVE_TIMEOUT_S, parallel/collective_watch.h) with a line naming what rank 0 waited in.
# expect_stop_named WHAT NAMED PROGRAM ARGS...: runs PROGRAM at -np 2 (rank 1 stops).
expect_stop_named() {
  local what=$1 named=$2
  shift 2
  GQA_COLLECTIVE_TIMEOUT_S=2 expect_job_ends \
    "rank 1 stops $what -> rank 0 ends the job on GQA_COLLECTIVE_TIMEOUT_S naming it" 2 "gqa: rank 0 has waited" \
    "s in $named for the other ranks" -x GQA_COLLECTIVE_TIMEOUT_S -np 2 "$@"
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
expect_stop_named "between decode steps" "a step (its all-reduces wait for every rank)" \
  "$step_probe" tests/fixtures/models/gqa 1
rm -f /tmp/probe.$$
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
