#!/usr/bin/env bash
# launch/sass_check.py on this build's own kernel objects: what gpu-check checks on the GPU
# machine (loads in flight, the overlap builds' softmax between their waits, the TMA builds' loads
# and no local memory, nothing but prefetches before a PDL wait, no byte-wide GEMV accesses),
# here in CI too, since it reads only the compiled SASS. Needs a CUDA build and cuobjdump +
# nvdisasm (launch/sass-tools.sh finds them, or fetches them from PyPI: launch/run-tests.sh does
# before the tests); skips (exit 77) without either.
# Usage: test_sass_build.sh BIN_DIR   (run from the repository root; the build is BIN_DIR/..)
set -uo pipefail
build=$(cd "$1/.." && pwd)
if [ -z "$(find "$build" -name 'attention_prefill_wgmma.cu.o' -print -quit)" ]; then
  echo "sass_build: $build has no CUDA kernel objects: skipped"
  exit 77
fi
if ! tools=$(bash launch/sass-tools.sh --find); then
  echo "sass_build: no cuobjdump and nvdisasm here (launch/sass-tools.sh fetches them): skipped"
  exit 77
fi
out=$(PATH="$tools:$PATH" python3 launch/sass_check.py "$build" 2>&1)
rc=$?
if [ $rc -ne 0 ]; then
  grep -v '| yes |' <<<"$out"
  echo "FAIL: launch/sass_check.py $build: exit $rc"
  exit 1
fi
echo "sass_build: $(grep -c '| yes |' <<<"$out") checks passed on $build"
