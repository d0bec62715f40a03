#!/usr/bin/env bash
# launch/sass_check.py's SASS analysis (loads in flight, the overlap build's waits) on the small
# SASS texts it carries, then its refusals; the check of a real build runs in launch/gpu-check.sh.
# Usage: test_sass_check.sh BIN_DIR   (run from the repository root; BIN_DIR unused)
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
# (outputs captured before grep: grep -q would close the pipe early, and pipefail would fail on it)
out=$(python3 launch/sass_check.py --self-test) || fail "self-test: exit $?"
grep -q 'self-test passed' <<<"$out" || fail "self-test: '$out'"
rc=0; python3 launch/sass_check.py >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "no argument: exit $rc, wanted 2"
out=$(python3 launch/sass_check.py --help) || fail "--help: exit $?"
grep -q 'loads in flight' <<<"$out" || fail "--help"
empty=$(mktemp -d); trap 'rm -rf "$empty"' EXIT
rc=0; out=$(PATH=/usr/bin:/bin CUDA_HOME=$empty python3 launch/sass_check.py "$empty" 2>&1) || rc=$?
# without cuobjdump: exit 2 and a message; with one (/usr/local/cuda/bin): no objects, exit 1
case $rc in
  2) grep -q 'cuobjdump not found' <<<"$out" || fail "no cuobjdump: '$out'" ;;
  1) grep -q 'no kernel objects' <<<"$out" || fail "empty build: '$out'" ;;
  *) fail "empty build dir: exit $rc" ;;
esac
echo "sass_check: ok"
