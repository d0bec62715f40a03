# launch/gpu_check/profile.sh: part of launch/gpu-check.sh, which sources it (in its shell, with its
# variables and functions); not run on its own.
# --profile: Nsight Compute on the decode-step kernels.

# --- --profile: Nsight Compute on the decode-step kernels ----------------------------------------
if [ "$mode" = profile ] && [ $built -eq 1 ]; then
  ncu_bin=$(command -v ncu || true)
  [ -n "$ncu_bin" ] || [ ! -x /usr/local/cuda/bin/ncu ] || ncu_bin=/usr/local/cuda/bin/ncu
  if [ -z "$ncu_bin" ]; then
    record "ncu" SKIP "Nsight Compute (ncu) not found (PATH, /usr/local/cuda/bin)"
  else
    sections=(--section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section WarpStateStats
              --section LaunchStats)
    step "ncu decode attention" 240 "$ncu_bin" "${sections[@]}" --kernel-name regex:'decode_mma_kernel|merge_kernel' \
      --launch-skip 4 --launch-count 8 "$build/bin/gqa-attn-bench" --runs 3
    # the bandwidth-bound shapes (87% / 75% of copy in run 5): what limits a block's stream of tiles
    step "ncu decode attention (128K, batch 16)" 240 "$ncu_bin" "${sections[@]}" --section SourceCounters \
      --kernel-name regex:'decode_mma_kernel' --launch-skip 3 --launch-count 2 "$build/bin/gqa-attn-bench" \
      --runs 3 --batch 16 --context 131072
    step "ncu decode attention (32K, batch 16)" 240 "$ncu_bin" "${sections[@]}" \
      --kernel-name regex:'decode_mma_kernel' --launch-skip 3 --launch-count 1 "$build/bin/gqa-attn-bench" \
      --runs 3 --batch 16 --context 32768
    # the prefill attention: layer 0's chunks of an 8K prompt, the mma.sync kernel and the wgmma
    # TMA build (the default on H100/H200 since run 9, in its overlap variant since run 11: the same
    # kernel template, so the regex takes whichever variant the default is; gqa-bench times both), with the issue
    # and stall statistics that say whether instructions, barriers or the tensor cores bound a tile
    prefill_sections=("${sections[@]}" --section ComputeWorkloadAnalysis --section SchedulerStats
                      --section InstructionStats --section SourceCounters)
    for k in prefill_mma_kernel prefill_wgmma_tma_kernel; do
      step "ncu $k (8K prompt, 1 layer)" 180 "$ncu_bin" "${prefill_sections[@]}" \
        --kernel-name regex:"$k" --launch-skip 2 --launch-count 1 "$build/bin/gqa-bench" \
        --layers 1 --no-decode --prefill 8192 --runs 1 --warmup 1 --out "$logs/profile-prefill-$k.md"
    done
    # gqa-bench's per-op section at batch 1 calls each op 1 + 3 times in step order: 40 launches
    # cover embedding, rmsnorm, the QKV/O/gate-up/down/LM-head GEMVs, rope+kv_write and swiglu.
    step "ncu decode ops (2 layers, 8K, batch 1)" 240 "$ncu_bin" "${sections[@]}" \
      --kernel-name regex:'gemv_kernel|rmsnorm_kernel|rope_kv_write_kernel|swiglu_kernel|embedding_kernel' \
      --launch-count 40 "$build/bin/gqa-bench" --layers 2 --contexts 8K --batches 1 --no-prefill --runs 3 \
      --warmup 1 --step-runs 2 --out "$logs/profile-bench.md"
  fi
  nsys_steps
fi
if [ "$mode" = decode ] && [ $built -eq 1 ]; then nsys_steps; fi
