# launch/gpu_check/memcheck.sh: part of launch/gpu-check.sh, which sources it (in its shell, with its
# variables and functions); not run on its own.
# Step 7: the kernel tests again under compute-sanitizer memcheck (slowest: last).

# --- 7. the kernel tests again under compute-sanitizer memcheck (slowest: last) ------------------
if [ $checking -eq 1 ] && [ $built -eq 1 ] && [ "$mode" != decode ] && [ "$mode" != prefill ]; then
  sanitizer=$(sanitizer_path)
  if [ -z "$sanitizer" ]; then
    record "compute-sanitizer memcheck" SKIP "compute-sanitizer not found (PATH, /usr/local/cuda/bin)"
  else
    # Every kernel test but the model tests (ctest covers them); of the attention tests only some
    # cases (below): under memcheck the mma prefill's shape sweep and long prompts take many
    # minutes (run 1 spent the box on them), and cuda_test_attention's prefill cases outlast a box.
    order=()
    for exe in "$build"/tests/cuda_test_*; do
      case "$(basename "$exe")" in
        # the model tests: ctest covers them; the prefill attention tests: appended below
        # (cuda_test_attention: first in the list below)
        cuda_test_cuda_model | cuda_test_cuda_model_opt_in | cuda_test_attention_prefill_mma | \
          cuda_test_attention_prefill_wgmma) ;;
        *) order+=("$(basename "$exe")") ;;
      esac
    done
    order+=(cuda_test_attention_prefill_wgmma cuda_test_attention_prefill_mma)
    # The longest first, so that the 4 slots end together (run 15's times, 4 at a time: the
    # attention's decode splits ~43 s in run 13, fused merge 51 s, persistent MLP 39 s, ring GEMVs
    # 36 s, decode cluster 27 s, bulk GEMVs and decode groups 20 s; the rest 0-18 s each): run 15
    # started the attention's last and the box cut it. GQA_MEMCHECK_FIRST (space-separated test
    # names) goes before that list, e.g. the tests of kernel code no GPU has run yet.
    first=()
    for name in ${GQA_MEMCHECK_FIRST:-} cuda_test_attention cuda_test_attention_decode_fused_merge \
      cuda_test_mlp_persistent cuda_test_gemv_ring cuda_test_attention_decode_cluster cuda_test_gemv_bulk \
      cuda_test_attention_decode_groups; do
      case " ${first[*]} " in *" $name "*) ;; *) first+=("$name") ;; esac
    done
    rest=()
    for name in "${order[@]}"; do
      case " ${first[*]} " in *" $name "*) ;; *) rest+=("$name") ;; esac
    done
    order=("${first[@]}" "${rest[@]}")
    # GQA_MEMCHECK_JOBS (default 4) of them at a time, in that order, each in a process of its own
    # (run 10's by-hand memchecks took ~310 s one after another, 75 s the longest; most of a
    # memcheck is the sanitizer's host work and the tests' CPU references, which the device's 16
    # cores run side by side while the GPU time-slices); 1: one after another, as before.
    memcheck_step() {
      if [ "$memcheck_jobs" -le 1 ]; then
        step "$@"
      else
        bg_slots "$memcheck_jobs"
        bg_step "$@"
      fi
    }
    for name in "${order[@]}"; do
      exe="$build/tests/$name"
      [ -x "$exe" ] || continue
      filter=()
      case "$name" in
        cuda_test_attention_prefill_mma) filter=("--gtest_filter=CudaPrefillMmaCases.*:-$slow_mma") ;;
        # its decode splits' cases only (43 s in run 13), in every mode: the whole test (also
        # CudaAttentionDecode's and CudaAttentionBlockSizes' cases and the simple prefill's) outlasts
        # the box under memcheck (run 15's default mode: cut after 21 s and 7 cases)
        cuda_test_attention) filter=("--gtest_filter=CudaAttentionDecodeSplits.*") ;;
        cuda_test_cuda_sampling | cuda_test_graph_cache | cuda_test_pinned_staging) [ "$mode" = quick ] && continue ;;
        cuda_test_attention_prefill_wgmma_ablation) continue ;;  # a timing aid's kernels, not the product's
        cuda_test_rope_kv_write | cuda_test_gemv_rope) filter=("--gtest_filter=-*Death*") ;;  # (their device assert / trap is on purpose)
      esac
      if [ "$name" = cuda_test_attention_prefill_wgmma ]; then
        memcheck_wgmma_build "$sanitizer" "$wgmma_default_build" 300 memcheck_step  # (the default first)
        for b in "${wgmma_build_names[@]}"; do
          [ "$b" = "$wgmma_default_build" ] || memcheck_wgmma_build "$sanitizer" "$b" 300 memcheck_step
        done
        continue
      fi
      memcheck_step "memcheck $(basename "$exe")${filter:+ (${filter[0]#--gtest_filter=})}" 900 "$sanitizer" \
        --tool memcheck --error-exitcode 99 "$exe" "${filter[@]}"
    done
    wait_steps
    # Shared-memory hazards of the top-k selection (kernels/cuda/top_k_select.cu): its small test
    # under racecheck.
    if [ -x "$build/tests/cuda_test_cuda_sampling" ]; then
      step "racecheck cuda_test_cuda_sampling (TopKSelectFewShapes)" 300 "$sanitizer" --tool racecheck \
        --error-exitcode 99 "$build/tests/cuda_test_cuda_sampling" --gtest_filter='*TopKSelectFewShapes*'
    fi
  fi
fi
# --decode: the split merge's shared-memory tree (kernels/cuda/attention_merge.cu) under racecheck
if [ "$mode" = decode ] && [ $built -eq 1 ] && [ -z "$(sanitizer_path)" ]; then
  record "compute-sanitizer" SKIP "compute-sanitizer not found (PATH, /usr/local/cuda/bin)"
elif [ "$mode" = decode ] && [ $built -eq 1 ]; then
  step "racecheck cuda_test_attention (CallerWorkspace: 9 splits merged)" 120 "$(sanitizer_path)" \
    --tool racecheck --error-exitcode 99 "$build/tests/cuda_test_attention" \
    --gtest_filter='CudaAttentionDecodeSplits.CallerWorkspace'
  # the opt-in fused merge (counters, reused workspaces, graphs) and norm prologue under memcheck
  step "memcheck cuda_test_attention_decode_fused_merge (workspace, graphs)" 120 "$(sanitizer_path)" \
    --tool memcheck --error-exitcode 99 "$build/tests/cuda_test_attention_decode_fused_merge" \
    --gtest_filter='*CallerWorkspaceReused*:*GraphReplays*'
  step "memcheck cuda_test_gemv_norm (bf16)" 120 "$(sanitizer_path)" --tool memcheck --error-exitcode 99 \
    "$build/tests/cuda_test_gemv_norm" --gtest_filter='*/bf16'
  step "memcheck cuda_test_attention_decode_groups (fallbacks, bad entries)" 120 "$(sanitizer_path)" --tool memcheck \
    --error-exitcode 99 "$build/tests/cuda_test_attention_decode_groups" --gtest_filter='*FallsBack*:*BadEntry*'
  step "memcheck cuda_test_gemv_bulk (SwiGLU, bf16)" 120 "$(sanitizer_path)" --tool memcheck --error-exitcode 99 \
    "$build/tests/cuda_test_gemv_bulk" --gtest_filter='*Swiglu*/bf16'
  step "memcheck cuda_test_gemv_ring (plain, bf16)" 120 "$(sanitizer_path)" --tool memcheck --error-exitcode 99 \
    "$build/tests/cuda_test_gemv_ring" --gtest_filter='*PlainAndSwiglu*/bf16'
  step "memcheck cuda_test_mlp_persistent (bf16)" 120 "$(sanitizer_path)" --tool memcheck --error-exitcode 99 \
    "$build/tests/cuda_test_mlp_persistent" --gtest_filter='*/bf16'
fi
