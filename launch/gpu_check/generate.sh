# launch/gpu_check/generate.sh: part of launch/gpu-check.sh, which sources it (in its shell, with its
# variables and functions); not run on its own.
# mpirun, and gqa-generate against the fixture's reference tokens (steps 4-5; --quick, --decode and
# --prefill run their variants through generate).

# mpirun, and gqa-generate's check against the fixture's reference tokens (steps 4-5; --quick runs
# the default kernels' two before its benches)
mpirun_bin=$(command -v mpirun || true)
if [ -z "$mpirun_bin" ]; then
  echo "mpirun is not on PATH; looking for \$GQA_MPI_HOME/bin/mpirun (GQA_MPI_HOME=${GQA_MPI_HOME:-unset})"
  if [ -n "${GQA_MPI_HOME:-}" ] && [ -x "${GQA_MPI_HOME}/bin/mpirun" ]; then mpirun_bin="${GQA_MPI_HOME}/bin/mpirun"; fi
fi
mpi_flags=(--oversubscribe --bind-to none)
fixture=tests/fixtures/models/gqa
ref_field() { python3 -c "import json,sys; print(','.join(map(str, json.load(open(sys.argv[1]))[sys.argv[2]])))" \
                "$fixture/reference.json" "$1"; }
# generate NP COMM DTYPE [VAR=VALUE ...]: tokens vs reference.json (f32: all equal; bf16/f16:
# first token equal); each VAR=VALUE is set for every rank (mpirun -x).
generate() {
  local np=$1 comm=$2 dtype=$3
  shift 3
  local name="gqa-generate np$np --comm $comm --dtype $dtype${*:+ $*}"
  local envs=() kv
  for kv in "$@"; do envs+=(-x "$kv"); done
  local prompt expected n_new out got
  if ! prompt=$(ref_field prompt_tokens) || ! expected=$(ref_field generated_tokens); then
    record "$name" FAIL "cannot read $fixture/reference.json"
    return
  fi
  n_new=$(awk -F, '{print NF}' <<<"$expected")
  if ! step "$name" 300 "$mpirun_bin" "${mpi_flags[@]}" "${envs[@]}" -np "$np" "$build/bin/gqa-generate" --model "$fixture" \
       --backend cuda --comm "$comm" --dtype "$dtype" --prompt-tokens "$prompt" --max-new-tokens "$n_new" \
       --temperature 0 --ignore-eos; then
    return
  fi
  out=$(grep '^{' "$(log_of "$name")" | tail -n 1)
  got=$(python3 -c "import json,sys; print(','.join(map(str, json.loads(sys.argv[1])['generated_tokens'])))" \
        "$out" 2>/dev/null)
  # Replace the PASS the run itself earned with the verdict on its tokens.
  unset 'names[-1]' 'states[-1]' 'notes[-1]'
  if [ "$got" = "$expected" ]; then
    record "$name" PASS "tokens equal reference.json"
  elif [ "$dtype" != f32 ] && [ "${got%%,*}" = "${expected%%,*}" ]; then
    local same
    same=$(python3 -c "import sys; a=sys.argv[1].split(','); b=sys.argv[2].split(','); print(sum(x==y for x,y in zip(a,b)))" "$got" "$expected")
    record "$name" PASS "first token equal, $same/$n_new equal ($dtype rounding may flip low-margin tokens): got $got"
  else
    record "$name" FAIL "got '$got', expected '$expected'"
  fi
}
# the default kernels end to end at np 1 (NCCL) and 2 (MPI, sharing the GPU)
default_generates() {
  generate 1 nccl bf16
  generate 2 mpi bf16
  # if that failed: again with the candidates picked on the host (greedy: tells the GPU argmax of
  # each rank's slice from the rest of the run)
  if [ "${states[-1]}" = FAIL ]; then generate 2 mpi bf16 GQA_GPU_TOP_K=0; fi
}
