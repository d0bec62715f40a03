# launch/gpu_check/memcheck_steps.sh: part of launch/gpu-check.sh, which sources it (in its shell, with its
# variables and functions); not run on its own.
# compute-sanitizer memcheck steps that several modes run (step 7 itself is memcheck.sh).

# compute-sanitizer: on PATH or in the toolkit ("" when neither)
sanitizer_path() {
  command -v compute-sanitizer && return
  [ ! -x /usr/local/cuda/bin/compute-sanitizer ] || echo /usr/local/cuda/bin/compute-sanitizer
}
# --prefill: the TMA tiles and the swizzle and TMA builds' (and the TMA build's variants') cases
# under memcheck (~3 s each in runs 6, 9 and 10)
prefill_memchecks() {
  local b sanitizer
  sanitizer=$(sanitizer_path)
  if [ -z "$sanitizer" ]; then
    record "compute-sanitizer memcheck" SKIP "compute-sanitizer not found (PATH, /usr/local/cuda/bin)"
    return
  fi
  step "memcheck cuda_test_prefill_tma_tiles" 120 "$sanitizer" --tool memcheck --error-exitcode 99 \
    "$build/tests/cuda_test_prefill_tma_tiles"
  for b in "$wgmma_default_build" tma swizzle tma_late tma_persistent; do  # (the default build first)
    memcheck_wgmma_build "$sanitizer" "$b" 120
  done
}
# memcheck_wgmma_build SANITIZER BUILD LIMIT_S [RUNNER]: the wgmma prefill test's cases
# (CudaPrefillWgmmaCases) of one build under memcheck, in a process of its own as its test ran
# (RUNNER: step, or memcheck_step for step 7's parallel memchecks); skipped where its test did not
# pass (memcheck would only repeat the failure, slower).
memcheck_wgmma_build() {
  local name="memcheck cuda_test_attention_prefill_wgmma ($2 build"
  if skip_listed "$2"; then
    record "$name)" SKIP "its test did not pass above"
  else
    "${4:-step}" "$name, CudaPrefillWgmmaCases.*)" "$3" env GQA_TEST_WGMMA_BUILD="$2" "$1" --tool memcheck \
      --error-exitcode 99 "$build/tests/cuda_test_attention_prefill_wgmma" '--gtest_filter=CudaPrefillWgmmaCases.*'
  fi
}
