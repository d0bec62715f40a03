#!/usr/bin/env bash
# Sets up and runs the demo: greedy generation with the bundled GQA model (8 query heads sharing
# 2 KV heads), tensor-parallel over 2 MPI ranks. Uses the GPU backend when one is present and
# built, else the CPU backend. Extra args go to gqa-generate (e.g. --max-new-tokens 32).
set -euo pipefail
cd "$(dirname "$0")/.."
launch/install-deps.sh
launch/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
np="${GQA_DEMO_RANKS:-2}"
exec mpirun --oversubscribe --bind-to none -np "$np" build/bin/gqa-generate \
  --model tests/fixtures/models/gqa --backend auto \
  --prompt-tokens "$(python3 -c 'import json;print(",".join(map(str,json.load(open("tests/fixtures/models/gqa/reference.json"))["prompt_tokens"])))')" \
  --max-new-tokens 16 --temperature 0 "$@"
