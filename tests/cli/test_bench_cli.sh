#!/usr/bin/env bash
# gqa-bench, gqa-attn-bench and gqa-sample-bench from the command line, without a GPU (CI): --help
# exits 0 and names every flag; a bad flag or value gives one clear message and exit 2; a machine
# without a CUDA device gets a message and exit 0 (nothing to time). gqa-bench and gqa-attn-bench
# are skipped where they were not built (a build without CUDA); all of it (77) without any.
# usage: test_bench_cli.sh BUILD_BIN_DIR   (run from the repository root)
set -uo pipefail
bin="${1:?usage: $0 BUILD_BIN_DIR}"
[ -x "$bin/gqa-sample-bench" ] || [ -x "$bin/gqa-bench" ] || { echo "skipped: no benchmark built"; exit 77; }
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

# gqa-sample-bench (every build): its numbers parsed whole, in range (atoll/atoi took "1000x" as
# 1000 and wrapped 4294967297 to 1), a run that fits in memory.
sb="$bin/gqa-sample-bench"
if [ -x "$sb" ]; then
  help_names sample-bench "$sb" 'Usage: gqa-sample-bench' --vocab --runs --version
  expect "sample-bench --vocab 1000x" 2 "^gqa-sample-bench: --vocab: '1000x' is not a whole number" "$sb" --vocab 1000x
  expect "sample-bench --runs 2^32 + 1 (not wrapped to 1)" 2 "--runs: must be at most 100000, got 4294967297" \
    "$sb" --runs 4294967297
  expect "sample-bench --vocab 10^14 (refused, not std::bad_alloc)" 2 "--vocab: must be at most 16777216" \
    "$sb" --vocab 100000000000000
  expect "sample-bench --vocab of 19 digits past LLONG_MAX (refused, not std::out_of_range)" 2 \
    "--vocab: must be at most 16777216, got 9999999999999999999" "$sb" --vocab 9999999999999999999
  expect "sample-bench --vocab 0" 2 "--vocab: must be at least 1, got 0" "$sb" --vocab 0
  expect "sample-bench --vocab 1K --runs 3 (a K suffix)" 0 "x 1024 \\| top_k 50" "$sb" --vocab 1K --runs 3
  expect "sample-bench --vocab given again: the last wins" 0 "x 2000 \\| top_k 50" "$sb" --vocab 1000 --runs 2 --vocab 2000
  expect "sample-bench --runs 010" 2 "without a leading 0" "$sb" --runs 010
  expect "sample-bench --vocab 1000 --runs 3" 0 "x 1000 \\| top_k 50" "$sb" --vocab 1000 --runs 3
  expect "sample-bench --version" 0 "^gqa-sample-bench [0-9]+\\.[0-9]+" "$sb" --version
fi
if ! [ -x "$bin/gqa-bench" ] || ! [ -x "$bin/gqa-attn-bench" ]; then
  echo "gqa-bench, gqa-attn-bench: skipped (no CUDA build)"
  tally "bench cli"
  exit
fi

ab="$bin/gqa-attn-bench"
help_names attn-bench "$ab" 'Usage: gqa-attn-bench' --check --runs --splits --sweep --context --batch
expect "attn-bench unknown flag" 2 "^gqa-attn-bench: The following argument was not expected: --bogus" "$ab" --bogus
expect "attn-bench --runs 0" 2 '--runs: must be at least 1, got 0' "$ab" --runs 0
expect "attn-bench --runs without a value" 2 '--runs: 1 required INT missing' "$ab" --runs
expect "attn-bench --context 1000" 2 "--context: takes 8K, 32K or 128K \\(8192, 32768, 131072\\), got '1000'" \
  "$ab" --context 1000
expect "attn-bench --context 8K1" 2 "--context: takes 8K, 32K or 128K .*, got '8K1'" "$ab" --context 8K1
expect "attn-bench --batch 3" 2 "--batch: takes 1 or 16, got '3'" "$ab" --batch 3
expect "attn-bench --splits 2M" 2 "--splits: '2M' is not a whole number" "$ab" --splits 2M
expect "attn-bench --splits past 2^20" 2 "--splits: must be at most 1048576, got 2000000" "$ab" --splits 2000000
expect "attn-bench --version" 0 "^gqa-attn-bench [0-9]+\\.[0-9]+" "$ab" --version
if ! nvidia-smi -L >/dev/null 2>&1; then
  expect "attn-bench without a GPU" 0 'no CUDA device visible' "$ab"
  # the contexts as gqa-bench spells them, and as numbers, pass the flag check
  for c in 8K 32k 131072; do expect "attn-bench --context $c" 0 'no CUDA device visible' "$ab" --context $c --batch 16; done
fi

gb="$bin/gqa-bench"
help_names bench "$gb" 'Usage: gqa-bench' --contexts --batches --prefill --prefill-chunk --layers --runs --step-runs \
  --no-decode --no-prefill --spectrum --peers --model-8b --peer-layers --all --budget-s --allreduce-us --out
expect "bench unknown flag" 2 '^gqa-bench: The following argument was not expected: --bogus' "$gb" --bogus
expect "bench --runs 0" 2 '--runs: must be at least 1, got 0' "$gb" --runs 0
expect "bench --runs 2^32 + 1 (refused, not cut to 1)" 2 '--runs: must be at most 2147483647, got 4294967297' \
  "$gb" --runs 4294967297
expect "bench --contexts past int64 once multiplied" 2 'is not a list of positive sizes' "$gb" --contexts 9007199254740992K
expect "bench --layers x" 2 "--layers: 'x' is not a whole number" "$gb" --layers x
expect "bench --runs 010" 2 'without a leading 0' "$gb" --runs 010
expect "bench --budget-s 0" 2 "--budget-s: needs a positive number, got '0'" "$gb" --budget-s 0
expect "bench --out ''" 2 '--out: needs a path, got an empty string' "$gb" --out ""
expect "bench: a bad value given before a good one is still refused" 2 "--budget-s: needs a positive number, got 'x'" \
  "$gb" --budget-s x --budget-s 5
expect "bench --contexts 1K,x" 2 'is not a list of positive sizes' "$gb" --contexts 1K,x
# a bad flag is one line and a pointer to --help, not the whole usage after it
out=$(timeout 60 "$gb" --bogus 2>&1)
[ "$(wc -l <<<"$out")" -eq 2 ] && grep -q "Run with --help for more information." <<<"$out" && ok "bench: an error, then a pointer to --help" ||
  bad "bench: an error's output: $(head -c 300 <<<"$out")"
expect "bench --version" 0 "^gqa-bench [0-9]+\\.[0-9]+" "$gb" --version
if ! nvidia-smi -L >/dev/null 2>&1; then
  expect "bench without a GPU" 0 'no CUDA device visible' "$gb" --budget-s 5
  # (gpu-check appends GQA_BENCH_ARGS after its own flags: a flag given again overrides)
  expect "bench: a flag given again is taken" 0 'no CUDA device visible' "$gb" --runs 3 --budget-s 5 --runs 4 --no-decode --no-decode
fi

tally "bench cli"
