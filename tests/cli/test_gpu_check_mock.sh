#!/usr/bin/env bash
# launch/gpu-check.sh's flow on fake tools (tests/cli/gpu_check_mock/: no GPU, no build): what it
# runs, records and exits with in --prefill, --quick and the default mode (and that --decode, --bench and
# --profile pass), a step the box cuts (CUT, exit 4), and a
# cut step whose log shows a failed case or a step that exits non-zero (FAIL, exit 1). GPU time is
# rare: a broken flow found here costs no device call. ~5 minutes (the fake steps sleep 1-2 s, the
# cut ones until the box ends, one that ignores SIGTERM 15 s more).
# Usage: test_gpu_check_mock.sh BIN_DIR   (run from the repository root; BIN_DIR unused)
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
root=$(pwd)
[ -f launch/gpu-check.sh ] || fail "run from the repository root"
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
mock="$scratch/bin"
cp -r tests/cli/gpu_check_mock "$mock"
chmod +x "$mock"/*
tokens=$(python3 -c "import json; print(','.join(map(str, json.load(open('tests/fixtures/models/gqa/reference.json'))['generated_tokens'])))")

# A copy of the tracked tree (gpu-check writes build-gpu/ and bench/results/ where it runs).
tree="$scratch/repo"
mkdir -p "$tree"
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
  git -C "$root" ls-files -z | (cd "$root" && xargs -0 cp --parents -t "$tree")
else
  tar -C "$root" --exclude='./build*' --exclude=./.git --exclude=./.devdeps -cf - . | tar -C "$tree" -xf -
fi

# run NAME MODE BUDGET_S TIMES...: gpu-check in the copy; sets rc and out (its output).
run() {
  local name=$1 mode=$2 budget=$3
  shift 3
  printf '%s\n' "$@" >"$scratch/times-$name.txt"
  rm -rf "$tree/build-gpu"
  rc=0
  out=$(cd "$tree" && MOCK_BIN=$mock MOCK_TIMES="$scratch/times-$name.txt" MOCK_TOKENS=$tokens PATH="$mock:$PATH" \
        GQA_CHECK_BUDGET_S=$budget timeout 400 bash launch/gpu-check.sh ${mode:+"--$mode"} 2>&1) || rc=$?
  echo "$name: gpu-check${mode:+ --$mode} exit $rc, $(grep '^gpu-check:' <<<"$out" | tail -n 1)"
  [ -z "${MOCK_DEBUG:-}" ] || echo "$out" >"/tmp/mock-$name.out"
}
row() { grep -E "^$1 +$2( |$)" <<<"$out" >/dev/null || fail "$3: no '$1  $2' row in the summary: $(tail -n 45 <<<"$out")"; }
# sass_row_before NAME BENCH_ROW: the SASS check (run beside the GPU tests in the checking modes) has
# exactly one row in the summary, before BENCH_ROW's (recorded before any benchmark ran).
sass_row_before() {
  local sass bench
  [ "$(grep -cE '^SASS checks +(PASS|SKIP|WARN)' <<<"$out")" -eq 1 ] || fail "$1: not one SASS checks row: $(tail -n 45 <<<"$out")"
  sass=$(grep -nE '^SASS checks ' <<<"$out" | tail -n 1 | cut -d: -f1)
  bench=$(grep -nE "^$2 " <<<"$out" | tail -n 1 | cut -d: -f1)
  [ -n "$bench" ] && [ "$sass" -lt "$bench" ] || fail "$1: the SASS checks row is not before '$2' ($sass, $bench)"
}

# 1. --prefill, every step passing
run prefill prefill 300 "configure 1" "build 1"
[ $rc -eq 0 ] || fail "prefill: exit $rc: $(tail -n 45 <<<"$out")"
grep -q '^gpu-check: 37 steps, 0 failed' <<<"$out" || fail "prefill: $(grep '^gpu-check:' <<<"$out")"
row "cuda_test_attention_prefill_wgmma \(tma_overlap build\)" PASS prefill
row "gqa-generate np1 --comm nccl --dtype bf16" PASS prefill
row "gqa-generate np2 --comm mpi --dtype bf16 GQA_PREFILL_WGMMA_TMA_OVERLAP=0" PASS prefill
# the default build's memcheck first of the builds'
first=$(grep -m1 -oE '^memcheck cuda_test_attention_prefill_wgmma \([a-z_]+ build' <<<"$out")
[ "$first" = "memcheck cuda_test_attention_prefill_wgmma (tma_overlap build" ] || fail "prefill: first build memcheck: '$first'"

# 2. --quick, every step passing (the command the next GPU session runs)
run quick quick 540 "configure 1" "build 1"
[ $rc -eq 0 ] || fail "quick: exit $rc: $(tail -n 45 <<<"$out")"
grep -qE '^gpu-check: [0-9]+ steps, 0 failed' <<<"$out" || fail "quick: $(grep '^gpu-check:' <<<"$out")"
row "gqa-attn-bench" PASS quick
sass_row_before quick gqa-attn-bench
row "memcheck cuda_test_attention_decode_groups" PASS quick
# step 7's memchecks side by side (GQA_MEMCHECK_JOBS, default 4), each recorded as it ends
grep -qE '^memcheck cuda_test_[a-z_]+ .*PASS .*beside others' <<<"$out" || fail "quick: no memcheck ran beside others"

# 3. the box ends a build's test process before its own limit, with cases passed and none failed:
# CUT, not FAIL; nothing failed, so exit 4. One of them ignores SIGTERM: timeout's --kill-after
# ends it 15 s later (137 at its limit: also the box's cut)
run cut prefill 80 "configure 1" "build 1" "cuda_test_attention_prefill_wgmma:basic:notslow 300 0 ok" \
  "cuda_test_attention_prefill_wgmma:producer:notslow 300 0 ok noterm"
[ $rc -eq 4 ] || fail "cut: exit $rc, wanted 4: $(tail -n 45 <<<"$out")"
row "cuda_test_attention_prefill_wgmma \(basic build\)" CUT cut
grep -qE 'basic build\) +CUT +the box ended it at its cut limit, [0-9]+s of its 180s \(exit 124 after [0-9]+s; 2 test cases passed, none failed\)' <<<"$out" ||
  fail "cut: the CUT note"
row "cuda_test_attention_prefill_wgmma \(producer build\)" CUT "cut (137)"
grep -qE 'producer build\) +CUT +the box ended it .*\(exit 137 after' <<<"$out" || fail "cut (137): the note names exit 137"
grep -qE '^gpu-check: 37 steps, 0 failed, 2 cut by the box' <<<"$out" || fail "cut: $(grep '^gpu-check:' <<<"$out")"

# 4. cut with a failed case in its log, a step that exits 1, and two killed (137: an OOM kill) before
# the limit the box gave them (~51 s), one long before, one at ~60% of it: FAIL (exit 1), naming
# the case; the kills are not the box's cut
run failed prefill 80 "configure 1" "build 1" "cuda_test_attention_prefill_wgmma:pingpong:notslow 300 0 failed" \
  "cuda_test_attention_prefill_wgmma:swizzle:notslow 2 1" "cuda_test_attention_prefill_wgmma:tma_late:notslow 1 137 ok" \
  "cuda_test_attention_prefill_wgmma:overlap:notslow 31 137 ok"
[ $rc -eq 1 ] || fail "failed: exit $rc, wanted 1: $(tail -n 45 <<<"$out")"
row "cuda_test_attention_prefill_wgmma \(pingpong build\)" FAIL failed
grep -q 'timed out after [0-9]*s: \[  FAILED  \] Mock.Case' <<<"$out" || fail "failed: the FAIL note names the case"
row "cuda_test_attention_prefill_wgmma \(swizzle build\)" FAIL failed
row "memcheck cuda_test_attention_prefill_wgmma \(swizzle build\)" SKIP failed
row "cuda_test_attention_prefill_wgmma \(tma_late build\)" FAIL failed
grep -qE 'tma_late build\) +FAIL +exit 137 after [0-9]+s' <<<"$out" || fail "failed: the killed step's note"
row "cuda_test_attention_prefill_wgmma \(overlap build\)" FAIL "failed (137 at ~60%)"
grep -qE 'overlap build\) +FAIL +exit 137 after 3[0-9]s' <<<"$out" || fail "failed: the step killed at ~60%'s note"

# 5. the default mode (issue 4's check), every step passing: the GPU tests 4 at a time with the
# prefill tests beside them, the multi-rank tests at np 1, 2 and 4, gqa-generate up to np 4
run check "" 540 "configure 1" "build 1"
[ $rc -eq 0 ] || fail "check: exit $rc: $(tail -n 45 <<<"$out")"
grep -qE '^gpu-check: [0-9]+ steps, 0 failed' <<<"$out" || fail "check: $(grep '^gpu-check:' <<<"$out")"
row "ctest -L gpu -j 4 \(not the mma and wgmma prefill\)" PASS check
row "cuda_test_attention_prefill_mma \(the 2000 / 70K-context cases\)" PASS check
row "cuda_test_attention_prefill_wgmma \(tma_overlap build\)" PASS check
for t in mpi_test_cuda_communicator mpi_test_cuda_model_mpi; do
  for np in 1 2 4; do row "$t np$np" PASS check; done
done
row "gqa-generate np4 --comm mpi --dtype f32" PASS check
row "gqa-attn-bench" PASS check
sass_row_before check gqa-attn-bench
row "memcheck cuda_test_attention_decode_groups" PASS check
row "memcheck cuda_test_attention \(CudaAttentionDecodeSplits\.\*\)" PASS check
# 6. the other modes, every step passing (their parts: launch/gpu_check/bench.sh, profile.sh)
run decode decode 300 "configure 1" "build 1"
[ $rc -eq 0 ] || fail "decode: exit $rc: $(tail -n 45 <<<"$out")"
row "gqa-bench --contexts" PASS decode
row "nsys" SKIP decode
run bench bench 300 "configure 1" "build 1"
[ $rc -eq 0 ] || fail "bench: exit $rc: $(tail -n 45 <<<"$out")"
row "gqa-bench --all" PASS bench
sass_row_before bench "gqa-bench --all"
grep -q '^# gqa-bench (mock) --all' <<<"$out" || fail "bench: gqa-bench's report is not printed"
# a part whose last step fails (here bench.sh's gqa-bench) still leads to the summary (exit 1)
run bench_failed bench 300 "configure 1" "build 1" "gqa-bench 1 1"
[ $rc -eq 1 ] || fail "bench_failed: exit $rc, wanted 1: $(tail -n 45 <<<"$out")"
row "gqa-bench --all" FAIL bench_failed
# the box too small for the check's later steps: they are skipped, and the summary still comes
run small_box "" 58 "configure 1" "build 1"
grep -qE '^gpu-check: [0-9]+ steps' <<<"$out" || fail "small_box: no summary (exit $rc): $(tail -n 20 <<<"$out")"
run profile profile 300 "configure 1" "build 1"
[ $rc -eq 0 ] || fail "profile: exit $rc: $(tail -n 45 <<<"$out")"
row "ncu" SKIP profile
echo "gpu-check flow: ok"
