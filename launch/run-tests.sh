#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test that does not need a GPU
# (unit, multi-rank under mpirun -np 1/2/4, command-line). GPU tests: launch/gpu-check.sh.
# GQA_TEST_JOBS: tests run at a time (default 2); GQA_JOBS: build jobs (launch/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
launch/install-deps.sh
launch/build.sh
# cuobjdump and nvdisasm for the build's SASS checks (tests/cli/test_sass_build.sh skips without them)
bash launch/sass-tools.sh >/dev/null || echo "run-tests: no cuobjdump / nvdisasm: the build's SASS checks are skipped"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
ctest --test-dir build --output-on-failure -LE gpu -j"${GQA_TEST_JOBS:-2}"
