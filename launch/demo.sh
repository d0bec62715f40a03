#!/usr/bin/env bash
# Sets up and runs the demo: greedy generation with the bundled GQA model (8 query heads sharing
# 2 KV heads), tensor-parallel over 2 MPI ranks. Uses the GPU backend when a GPU is present and
# the CUDA backend is built, else the CPU backend; if the GPU run fails it says so and runs on
# the CPU. Extra args go to gqa-generate (e.g. --max-new-tokens 32).
set -euo pipefail
cd "$(dirname "$0")/.."
launch/install-deps.sh
launch/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
np="${GQA_DEMO_RANKS:-2}"
model=tests/fixtures/models/gqa
prompt=$(python3 -c 'import json,sys; print(",".join(map(str, json.load(open(sys.argv[1]))["prompt_tokens"])))' \
  "$model/reference.json")
run() {
  mpirun --oversubscribe --bind-to none -np "$np" build/bin/gqa-generate --model "$model" --backend "$1" \
    --prompt-tokens "$prompt" --max-new-tokens 16 --temperature 0 "${@:2}"
}
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  run auto "$@" && exit 0
  echo "demo: the GPU run failed (see above); running on the CPU backend instead" >&2
fi
run cpu "$@"
