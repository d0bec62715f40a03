#!/usr/bin/env bash
# gqa-bench and gqa-attn-bench from the command line, without a GPU (CI): --help exits 0 and names
# every flag; a bad flag or value gives one clear message and exit 2; a machine without a CUDA
# device gets a message and exit 0 (nothing to time). Skipped (77) where they were not built
# (a build without CUDA).
# usage: test_bench_cli.sh BUILD_BIN_DIR   (run from the repository root)
set -uo pipefail
bin="${1:?usage: $0 BUILD_BIN_DIR}"
[ -x "$bin/gqa-bench" ] && [ -x "$bin/gqa-attn-bench" ] || { echo "skipped: no CUDA build"; exit 77; }
source "$(dirname "$0")/checks.sh"

# expect NAME RC PATTERN CMD...: CMD exits RC and its output (stdout and stderr) matches PATTERN.
expect() {
  local name=$1 want=$2 pattern=$3
  shift 3
  local out rc=0
  out=$(timeout 60 "$@" 2>&1) || rc=$?
  if [ "$rc" -eq "$want" ] && grep -qE -- "$pattern" <<<"$out"; then
    ok "$name"
  else
    bad "$name (exit $rc, wanted $want; output: $(head -c 300 <<<"$out"))"
  fi
}

# help_names NAME EXE FLAG...: EXE --help exits 0 and its text (read once) names every FLAG.
help_names() {
  local name=$1 exe=$2 text rc=0 flag
  shift 2
  text=$(timeout 60 "$exe" --help 2>&1) || rc=$?
  [ "$rc" -eq 0 ] && ok "$name --help" || bad "$name --help (exit $rc)"
  for flag in "$@"; do
    grep -qE -- "$flag" <<<"$text" && ok "$name --help names $flag" || bad "$name --help names $flag"
  done
}

ab="$bin/gqa-attn-bench"
help_names attn-bench "$ab" 'usage: gqa-attn-bench' --check --runs --splits --sweep --context --batch
expect "attn-bench unknown flag" 2 "unknown argument '--bogus'" "$ab" --bogus
expect "attn-bench --runs 0" 2 'takes an integer in \[1, 100000\]' "$ab" --runs 0
expect "attn-bench --runs without a value" 2 '--runs needs a value' "$ab" --runs
expect "attn-bench --context 1000" 2 '--context takes 8192, 32768 or 131072' "$ab" --context 1000
expect "attn-bench --batch 3" 2 '--batch 1 or 16' "$ab" --batch 3
if ! nvidia-smi -L >/dev/null 2>&1; then
  expect "attn-bench without a GPU" 0 'no CUDA device visible' "$ab"
fi

gb="$bin/gqa-bench"
help_names bench "$gb" 'usage: gqa-bench' --contexts --batches --prefill --prefill-chunk --layers --runs --step-runs \
  --no-decode --no-prefill --spectrum --peers --model-8b --peer-layers --all --budget-s --allreduce-us --out
expect "bench unknown flag" 2 'unknown argument "--bogus"' "$gb" --bogus
expect "bench --runs 0" 2 '--runs needs one integer >= 1, got "0"' "$gb" --runs 0
expect "bench --layers x" 2 '--layers needs one integer >= 1, got "x"' "$gb" --layers x
expect "bench --contexts 1K,x" 2 'is not a list of positive sizes' "$gb" --contexts 1K,x
if ! nvidia-smi -L >/dev/null 2>&1; then
  expect "bench without a GPU" 0 'no CUDA device visible' "$gb" --budget-s 5
fi

tally "bench cli"
