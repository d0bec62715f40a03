#!/usr/bin/env bash
# Sets up and runs the demo: greedy generation with the bundled GQA model (8 query heads sharing
# 2 KV heads), tensor-parallel over 2 MPI ranks. Uses the GPU backend when a GPU is present and
# the CUDA backend is built, else the CPU backend; if the GPU run fails it says so and runs on
# the CPU. Extra args go to gqa-generate and replace the demo's own settings of the same flags
# (e.g. --max-new-tokens 32, or --temperature 0.8 --seed 7).
# GQA_DEMO_RANKS: how many MPI ranks (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
launch/install-deps.sh
launch/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
np="${GQA_DEMO_RANKS:-2}"
model=tests/fixtures/models/gqa
prompt=$(python3 -c 'import json,sys; print(",".join(map(str, json.load(open(sys.argv[1]))["prompt_tokens"])))' \
  "$model/reference.json")
# Whether flag $1 is among the rest ("--flag value" or "--flag=value").
given() {
  local flag=$1 a
  shift
  for a in "$@"; do
    if [ "$a" = "$flag" ] || [[ "$a" == "$flag="* ]]; then return 0; fi
  done
  return 1
}
# The demo's settings, each unless the extra args give it (gqa-generate refuses a flag twice).
defaults=()
given --model "$@" || defaults+=(--model "$model")
given --prompt-tokens "$@" || given --prompt "$@" || given --prompt-file "$@" || given --prompt-tokens-file "$@" ||
  defaults+=(--prompt-tokens "$prompt")
given --max-new-tokens "$@" || defaults+=(--max-new-tokens 16)
given --temperature "$@" || defaults+=(--temperature 0)
run() {  # backend, extra args (the arrays through ${a[@]+...}: empty ones under set -u in bash < 4.4)
  local backend=(--backend "$1")
  given --backend "${@:2}" && backend=()
  mpirun --oversubscribe --bind-to none -np "$np" build/bin/gqa-generate ${defaults[@]+"${defaults[@]}"} \
    ${backend[@]+"${backend[@]}"} "${@:2}"
}
if given --backend "$@"; then  # (the user's choice: no fallback to another backend)
  run auto "$@"
  exit
fi
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  run auto "$@" && exit 0
  echo "demo: the GPU run failed (see above); running on the CPU backend instead" >&2
fi
run cpu "$@"
