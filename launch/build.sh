#!/usr/bin/env bash
# Configures and builds gqa into build/ (executables in build/bin/). Extra args go to cmake.
# GQA_JOBS: compile jobs (default: nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${GQA_JOBS:-$(nproc)}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$jobs"
