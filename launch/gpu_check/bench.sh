# launch/gpu_check/bench.sh: part of launch/gpu-check.sh, which sources it (in its shell, with its
# variables and functions); not run on its own.
# gqa-bench (--bench, --all, --decode, --choices; --quick ran quick_bench), and Nsight Systems on
# whole decode steps (--profile, --decode).

# Nsight Systems on whole decode steps (--profile, --decode)
nsys_path() {
  command -v nsys && return
  local c
  for c in /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys; do [ -x "$c" ] && echo "$c" && return; done
}
nsys_steps() {
  # Nsight Systems on whole decode steps (CUDA graphs traced node by node): each kernel's time inside
  # real steps, where the per-op section measures ops alone with a cold L2. gqa-bench opens the
  # profiler range around its timed PDL-on steps only (cudaProfilerStart/Stop); nsys keeps the first.
  local nsys_bin
  nsys_bin=$(nsys_path)
  if [ -z "$nsys_bin" ]; then
    record "nsys" SKIP "Nsight Systems (nsys) not found (PATH, /usr/local/cuda/bin, /opt/nvidia/nsight-systems)"
  else
    for b in 1 16; do
      if step "nsys decode steps (16 layers, 8K, batch $b)" 180 "$nsys_bin" profile --trace=cuda \
           --cuda-graph-trace=node --capture-range=cudaProfilerApi --capture-range-end=stop --force-overwrite=true \
           -o "$logs/decode-steps-b$b" "$build/bin/gqa-bench" --layers 16 --contexts 8K --batches "$b" --no-prefill \
           --runs 2 --warmup 1 --step-runs 10 --out "$logs/nsys-bench-b$b.md"; then
        step "nsys kernel summary (batch $b)" 120 "$nsys_bin" stats --report cuda_gpu_kern_sum --format csv \
          --force-export=true -o "$logs/decode-kernels-b$b" "$logs/decode-steps-b$b.nsys-rep"
      fi
    done
  fi
}

# --- gqa-bench (--bench, --all, --decode, --choices; --quick ran quick_bench) in what is left of the box
if [ $benching -eq 1 ]; then
  left=$((bench_total_s - (SECONDS - t_start) - 20))
  if [ "$mode" = all ]; then left=$(( $(left_s) - ${GQA_MEMCHECK_RESERVE_S:-90} - 40 )); fi
  bench_args=(--all --peer-layers "${GQA_BENCH_PEER_LAYERS:-8}")
  bench_min_s=60  # below this, gqa-bench is skipped whole
  if [ "$mode" = choices ]; then
    # the kernel choices to make defaults of: the attention sweep's columns first (seconds), then
    # gqa-bench's decode other-choices pass, GEMV launch sweep and read ceilings at 8K/32K, and the
    # prefill attention through every kernel at 8K (its opt-in table)
    if [ $built -eq 1 ]; then
      step "gqa-attn-bench" 120 "$build/bin/gqa-attn-bench" --sweep
      bench_log="$logs/gqa-attn-bench.log"  # (into the report, as the check's step 6)
    fi
    # (step caps its timeout at left_s - 25; the bench's own budget must end 15 s before that, as
    # in the other modes, or the timeout kills it before it saves its last section)
    left=$(( $(left_s) - 45 ))
    bench_args=(--contexts 8K,32K --prefill 8K --runs 10 --step-runs 10)
  fi
  if [ "$mode" = decode ]; then
    nsys_reserve=0  # (the GPU image of 2026-11-26 has no nsys)
    [ -z "$(nsys_path)" ] || nsys_reserve=${GQA_NSYS_RESERVE_S:-70}
    left=$(( $(left_s) - nsys_reserve - 40 ))  # (15 s of slack under step's cap of left_s - 25)
    bench_args=(--contexts 8K,32K,128K --no-prefill --peers --runs 20 --step-runs 20)
  fi
  if [ "$mode" = prefill ]; then
    # (step caps a timeout at left_s - 25; 15 s of slack under that, as --decode's)
    left=$(( $(left_s) - 25 - 15 ))
    bench_args=(--no-decode --prefill 8K,32K,128K --runs 10)
    bench_min_s=30
  fi
  if [ $built -ne 1 ]; then
    record "gqa-bench" SKIP "not built"
  elif [ $left -lt "$bench_min_s" ]; then
    record "gqa-bench" SKIP "only ${left}s of the box left for it"
  else
    bench_reports+=("$bench_dir/${gpu_name}-$(date +%Y%m%d-%H%M%S).md")
    # shellcheck disable=SC2086  # GQA_BENCH_ARGS is a list of flags
    # (The kernels' switches come from the environment; the report names the opt-in ones that ran.)
    step "gqa-bench ${bench_args[0]}" $((left + 15)) "$build/bin/gqa-bench" \
      "${bench_args[@]}" --budget-s "$left" --out "${bench_reports[-1]}" ${GQA_BENCH_ARGS:-}
  fi
fi
