# launch/gpu_check/skip_lists.sh: part of launch/gpu-check.sh, which sources it (in its shell, with its
# variables and functions); not run on its own.
# What the later steps leave out after a failed test: the wgmma builds (GQA_BENCH_SKIP_WGMMA) and
# gqa-bench's persistent MLP column (GQA_BENCH_SKIP_CHOICES).

# GQA_BENCH_SKIP_WGMMA (the builds and ablations whose test failed or was cut in this run, which gqa-bench,
# the memchecks and the variants' gqa-generate leave out): whether it names $1; add $1 to it.
skip_listed() { case ",${GQA_BENCH_SKIP_WGMMA:-}," in *",$1,"*) return 0 ;; esac; return 1; }
skip_list_add() { GQA_BENCH_SKIP_WGMMA="${GQA_BENCH_SKIP_WGMMA:+$GQA_BENCH_SKIP_WGMMA,}$1"; }
# GQA_BENCH_SKIP_CHOICES (gqa-bench's decode choices to leave out): "persistent MLP" unless the
# persistent MLP kernel's test passed in this run (a trap in its column would take the rest of the
# bench down with it): its own step (--decode), else ctest's record of what failed.
guard_mlp_choice() {
  local i passed=0
  for i in "${!names[@]}"; do
    [ "${names[$i]}" = cuda_test_mlp_persistent ] && [ "${states[$i]}" = PASS ] && passed=1
  done
  if [ $passed -eq 0 ] && [ "$mode" != decode ] && [ -f "$build/Testing/Temporary/LastTest.log" ] &&
     grep -q 'cuda_test_mlp_persistent' "$build/Testing/Temporary/LastTest.log" &&
     ! grep -q 'cuda_test_mlp_persistent' "$build/Testing/Temporary/LastTestsFailed.log" 2>/dev/null; then
    passed=1
  fi
  [ $passed -eq 1 ] || export GQA_BENCH_SKIP_CHOICES="persistent MLP"
}
