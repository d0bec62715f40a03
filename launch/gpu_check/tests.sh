# launch/gpu_check/tests.sh: part of launch/gpu-check.sh, which sources it (in its shell, with its
# variables and functions); not run on its own.
# Steps 3-6, the check (--bench, --profile and --choices skip them): the GPU tests, the multi-rank
# CUDA tests, gqa-generate, the attention benchmark.

# Steps 3-6 are the check; --bench skips them.
if [ $checking -eq 1 ]; then

# --- 3. GPU tests -----------------------------------------
# Their CPU references took ~70 s single-threaded (run 1); cpu::attention now spreads large calls
# over the cores, so --quick runs them as a step of their own after the rest.
slow_mma='CudaPrefillMmaCases.Prompt2000:CudaPrefillMmaCases.ChunkAfterLongContext'
# The wgmma prefill's builds in processes of their own: a trap in the ping-pong build (its
# mbarrier watchdog) poisons its process's CUDA context, and must not hide the basic build's result.
# Each took ~16 s in run 3 and 64-68 s side by side in run 10 (six builds then, nine now): 180 s
# bounds what a hang (a barrier mismatch has no watchdog) can cost.
# A build whose test fails is left out of gqa-bench's prefill table (GQA_BENCH_SKIP_WGMMA), so a
# hang or trap there cannot take the rest of the bench down.
wgmma_build_names=(basic pingpong producer overlap swizzle tma tma_late tma_overlap tma_persistent)  # GQA_TEST_WGMMA_BUILD's values
wgmma_default_build=tma_overlap  # the dispatcher's default (cuda::prefill_wgmma_build()), memchecked first
wgmma_builds() {
  local b
  for b in "${wgmma_build_names[@]}"; do
    bg_step "cuda_test_attention_prefill_wgmma ($b build)" 180 env GQA_TEST_WGMMA_BUILD=$b \
      "$build/tests/cuda_test_attention_prefill_wgmma" '--gtest_filter=-CudaPrefillWgmmaTma.*'
  done
  # the TMA build against the swizzle build bit for bit, in a process of its own (it runs both:
  # a trap in the swizzle build must not end the TMA build's own process)
  bg_step "cuda_test_attention_prefill_wgmma (TMA equals swizzle, bit for bit)" 120 env GQA_TEST_WGMMA_BUILD=tma \
    "$build/tests/cuda_test_attention_prefill_wgmma" '--gtest_filter=CudaPrefillWgmmaTma.*'
  # the late-turn build against the TMA build bit for bit (the same arithmetic, another schedule)
  bg_step "cuda_test_attention_prefill_wgmma (late turns equal TMA, bit for bit)" 120 \
    env GQA_TEST_WGMMA_BUILD=tma_late "$build/tests/cuda_test_attention_prefill_wgmma" \
    '--gtest_filter=CudaPrefillWgmmaTma.LateTurns*'
  # the persistent build against the TMA overlap build bit for bit (its grid capped, so it loops)
  bg_step "cuda_test_attention_prefill_wgmma (persistent equals TMA overlap, bit for bit)" 120 \
    env GQA_TEST_WGMMA_BUILD=tma_persistent "$build/tests/cuda_test_attention_prefill_wgmma" \
    '--gtest_filter=CudaPrefillWgmmaTma.Persistent*'

  # the producer build's ablated kernels (gqa-bench's table of which part bounds the prefill)
  # (the producer build's and the TMA build's, each in a process of its own: the TMA build's masks
  # were unrun when written, and a trap there must not cost the producer's table)
  local ab
  for ab in producer tma; do
    bg_step "cuda_test_attention_prefill_wgmma_ablation ($ab build)" 120 env GQA_TEST_ABLATION_BUILD=$ab \
      "$build/tests/cuda_test_attention_prefill_wgmma_ablation"
  done
  if [ "$mode" != prefill ]; then  # the mma prefill's tests beside them
    bg_step "cuda_test_attention_prefill_mma (not the 2000 / 70K-context cases)" 300 \
      "$build/tests/cuda_test_attention_prefill_mma" "--gtest_filter=-$slow_mma"
    bg_step "cuda_test_attention_prefill_mma (the 2000 / 70K-context cases)" 120 \
      "$build/tests/cuda_test_attention_prefill_mma" "--gtest_filter=$slow_mma"
  fi
  wait_steps
  for b in "${wgmma_build_names[@]}"; do
    step_passed "cuda_test_attention_prefill_wgmma ($b build)" ||
      skip_list_add "$b"
  done
  # (a TMA build that differs from the swizzle build is not timed either)
  step_passed "cuda_test_attention_prefill_wgmma (TMA equals swizzle, bit for bit)" ||
    skip_list_add tma
  step_passed "cuda_test_attention_prefill_wgmma (late turns equal TMA, bit for bit)" ||
    skip_list_add tma_late
  step_passed "cuda_test_attention_prefill_wgmma (persistent equals TMA overlap, bit for bit)" ||
    skip_list_add tma_persistent
  step_passed "cuda_test_attention_prefill_wgmma_ablation (producer build)" ||
    skip_list_add ablation
  step_passed "cuda_test_attention_prefill_wgmma_ablation (tma build)" ||
    skip_list_add ablation_tma
  export GQA_BENCH_SKIP_WGMMA
}
attn_bench_step() {
  bench="$build/bin/gqa-attn-bench"
  local limit=600
  [ "$mode" = quick ] && limit=120  # (run 6: 2 s; before the gqa-bench steps, a slow run must not eat the box)
  if [ $built -eq 1 ] && [ -x "$bench" ]; then  # (not an earlier run's binary after a failed build)
    step "gqa-attn-bench" "$limit" "$bench" --sweep
    bench_log="$logs/gqa-attn-bench.log"
    [ -s "$bench_log" ] && attn_bench_excerpt "$bench_log" | sed 's/^/   | /'  # the measurement itself, before the summary
  else
    record "gqa-attn-bench" SKIP "not built"
    bench_log=""
  fi
}
# --quick: gqa-bench right after the tests, in two processes of fixed budgets (a trap in one's
# kernels cannot take the other's tables down; each measures its own ceilings): the prefill (8K
# and 32K through every kernel build, the producer and TMA builds' ablations), then the decode (8K-128K,
# batch 1 and 16, the other kernel choices, the step ablation, the GEMV sweep, the SDPA peer).
# GQA_QUICK_PREFILL_BENCH_S / GQA_QUICK_DECODE_BENCH_S (default 60 / 90) are their budgets.
quick_bench() {
  local part budget args
  for part in prefill decode; do
    if [ "$part" = prefill ]; then
      budget=${GQA_QUICK_PREFILL_BENCH_S:-60}
      args=(--no-decode --prefill 8K,32K --runs 20)
    else
      budget=${GQA_QUICK_DECODE_BENCH_S:-90}
      args=(--no-prefill --contexts 8K,32K,128K --peers --runs 20 --step-runs 10)
    fi
    # (step caps its timeout at left_s - 25; the bench's budget ends 15 s before that, so the
    # timeout never cuts the report it saves after each section)
    [ "$budget" -le $(( $(left_s) - 40 )) ] || budget=$(( $(left_s) - 40 ))
    if [ "$budget" -lt 30 ]; then
      record "gqa-bench ($part)" SKIP "only ${budget}s of the box left for it"
      continue
    fi
    bench_reports+=("$bench_dir/${gpu_name}-$(date +%Y%m%d-%H%M%S)-$part.md")
    # shellcheck disable=SC2086  # GQA_BENCH_ARGS is a list of flags
    step "gqa-bench ($part)" $((budget + 15)) "$build/bin/gqa-bench" "${args[@]}" --budget-s "$budget" \
      --out "${bench_reports[-1]}" ${GQA_BENCH_ARGS:-}
  done
}
if [ $built -eq 1 ] && [ "$mode" = decode ]; then
  for t in "${decode_tests[@]}"; do step "$t" 300 "$build/tests/$t"; done
  sass_check_record
  guard_mlp_choice
elif [ $built -eq 1 ] && [ "$mode" = prefill ]; then
  for t in cuda_test_cuda_model cuda_test_cuda_model_opt_in cuda_test_prefill_tma_tiles; do
    bg_step "$t" 180 "$build/tests/$t"
  done
  wgmma_builds  # (waits for all of them)
  sass_check_record
elif [ $built -eq 1 ] && [ "$mode" = quick ]; then
  # -j 4: the tests' CPU references are most of their time (run 6: 190 s one at a time, the longest
  # cuda_test_attention's 62 s); each test's limit is GQA_TEST_TIMEOUT (180 s: configured above).
  step "ctest -L gpu -j 4 (not the mma and wgmma prefill)" 300 ctest --test-dir "$build" -L gpu -j 4 \
    -E 'cuda_test_attention_prefill_(mma|wgmma|wgmma_ablation)$' --output-on-failure
  sass_check_record  # (before the benches)
  guard_mlp_choice
  wgmma_builds
  attn_bench_step
  # the default kernels end to end before the benches (~10 s in run 6): a bench that overruns
  # must not cost the check of the defaults
  if [ -n "$mpirun_bin" ]; then default_generates; fi
  quick_bench
elif [ $built -eq 1 ]; then
  # (as --quick: 4 at a time, the prefill tests beside the wgmma builds; one after another they
  # would need ~350 s of a 540 s box: run 13's per-test times, measured 4 at a time, summed)
  step "ctest -L gpu -j 4 (not the mma and wgmma prefill)" 600 ctest --test-dir "$build" -L gpu -j 4 \
    -E 'cuda_test_attention_prefill_(mma|wgmma|wgmma_ablation)$' --output-on-failure
  sass_check_record
  guard_mlp_choice
  wgmma_builds
else
  record "ctest -L gpu" SKIP "no build"
fi

# --- 4. multi-rank CUDA tests -------------------------------------------------------------------
if [ "$mode" = quick ] && [ $built -eq 1 ] && [ -n "$mpirun_bin" ]; then
  # (the fixtures at np 1/2/4: --all; gqa-generate -np 2 below shares the GPU through MPI too)
  step "mpi_test_cuda_model_mpi np2 (sampling from GPU-picked candidates)" 120 "$mpirun_bin" "${mpi_flags[@]}" -np 2 \
    "$build/tests/mpi_test_cuda_model_mpi" --gtest_filter='CudaModelMpiSampling.*'
elif [ "$mode" = quick ] || [ "$mode" = decode ] || [ "$mode" = prefill ]; then
  record "mpi CUDA tests" SKIP "--$mode: gqa-generate -np 2 below shares the GPU through MPI"
elif [ $built -eq 1 ] && [ -n "$mpirun_bin" ]; then
  for t in mpi_test_cuda_communicator mpi_test_cuda_model_mpi; do
    if [ ! -x "$build/tests/$t" ]; then record "$t" FAIL "not built"; continue; fi
    for np in 1 2 4; do
      step "$t np$np" 600 "$mpirun_bin" "${mpi_flags[@]}" -np $np "$build/tests/$t"
    done
  done
elif [ -z "$mpirun_bin" ]; then
  record "mpi CUDA tests" SKIP "mpirun not found on PATH nor at \$GQA_MPI_HOME/bin/mpirun: install Open MPI or set GQA_MPI_HOME"
else
  record "mpi CUDA tests" SKIP "no build"
fi

# --- 5. gqa-generate on the gqa fixture ---------------------------------------------------------
if [ $built -eq 1 ] && [ -n "$mpirun_bin" ] && { [ "$mode" = quick ] || [ "$mode" = decode ]; }; then
  [ "$mode" = quick ] || default_generates  # (--quick ran them before its benches)
  # the decode GEMVs unfused (the fused ones are the default) end to end, on 2 ranks sharing the GPU
  generate 2 mpi bf16 GQA_FUSED_ROPE=0 GQA_FUSED_SWIGLU=0
  # the opt-in norm prologue and fused split merge end to end (NCCL, and 2 ranks sharing the GPU)
  generate 1 nccl bf16 GQA_FUSED_NORM=1 GQA_DECODE_FUSED_MERGE=1
  generate 2 mpi bf16 GQA_FUSED_NORM=1 GQA_DECODE_FUSED_MERGE=1
  generate 1 nccl bf16 GQA_GEMV_BULK=0
  # the opt-in ring GEMVs, alone and with the norm prologue (written in the eleventh session)
  generate 1 nccl bf16 GQA_GEMV_RING=1
  generate 2 mpi bf16 GQA_GEMV_RING=1 GQA_FUSED_NORM=1
  generate 1 nccl bf16 GQA_PDL_EARLY=0  # the PDL trigger after the wait (the early one is the default since run 8)
  # the opt-in persistent MLP kernel (twenty-first session): NCCL, and 2 ranks time-slicing the GPU
  generate 1 nccl bf16 GQA_MLP_PERSISTENT=1
  generate 2 mpi bf16 GQA_MLP_PERSISTENT=1
elif [ $built -eq 1 ] && [ -n "$mpirun_bin" ] && [ "$mode" = prefill ]; then
  default_generates
  generate 1 nccl bf16 GQA_PREFILL_WGMMA_TMA=0  # the swizzle build (what the TMA switch off leaves)
  generate 1 nccl bf16 GQA_PREFILL_WGMMA_TMA=0 GQA_PREFILL_WGMMA_SWIZZLE=0  # the producer build, the default before
  generate 1 nccl bf16 GQA_PREFILL_WGMMA_LAZY_RESCALE=1  # the opt-in lazy rescale (twenty-first session)
  # the TMA build without its default overlap and with its opt-in late turns, unless their tests
  # failed above
  if skip_listed tma_late; then
    record "gqa-generate np1 --comm nccl --dtype bf16 GQA_PREFILL_WGMMA_LATE_TURNS=1" SKIP "its test did not pass above"
  else
    generate 1 nccl bf16 GQA_PREFILL_WGMMA_LATE_TURNS=1
  fi
  if skip_listed tma; then
    record "gqa-generate np2 --comm mpi --dtype bf16 GQA_PREFILL_WGMMA_TMA_OVERLAP=0" SKIP "its test did not pass above"
  else
    generate 2 mpi bf16 GQA_PREFILL_WGMMA_TMA_OVERLAP=0
  fi
elif [ $built -eq 1 ] && [ -n "$mpirun_bin" ]; then
  generate 1 nccl f32
  generate 1 nccl bf16
  generate 2 mpi f32
  generate 2 mpi bf16
  generate 4 mpi f32
  generate 1 nccl bf16 GQA_PDL=0  # programmatic dependent launch (kernels/cuda/pdl.cuh) off; on is the default
  # the opt-in persistent prefill (thirty-fourth session), unless its tests failed above
  if skip_listed tma_persistent; then
    record "gqa-generate np1 --comm nccl --dtype bf16 GQA_PREFILL_WGMMA_PERSISTENT=1" SKIP "its test did not pass above"
  else
    generate 1 nccl bf16 GQA_PREFILL_WGMMA_PERSISTENT=1
  fi
  if [ "$gpu_count" -ge 2 ]; then generate 2 nccl f32; fi
else
  record "gqa-generate --backend cuda" SKIP "no build or no mpirun"
fi

# --prefill: the memchecks before gqa-bench, which takes what is left of the box
if [ "$mode" = prefill ] && [ $built -eq 1 ]; then prefill_memchecks; fi

# --- 6. attention benchmark (added by the attention kernels' issue; --quick ran it after its tests)
[ "$mode" = quick ] || [ "$mode" = prefill ] || attn_bench_step
fi  # checking
