#!/usr/bin/env bash
# launch/gpu-check.sh: the one GPU check of gqa (issue 4). On a machine with an NVIDIA GPU:
#   1. lists the GPUs (nvidia-smi -L);
#   2. configures and builds for sm_90a + sm_90 (CMAKE_CUDA_ARCHITECTURES="90a;90", accepted by
#      CMake >= 3.24; falls back to explicit -gencode flags if that configure fails), then checks
#      in the built SASS what the kernels count on (launch/sass_check.py: WARN on a miss);
#   3. runs the GPU tests (ctest -L gpu, 4 at a time; the prefill tests in processes of their own
#      beside them), then the kernel tests again under compute-sanitizer memcheck;
#   4. runs the multi-rank CUDA tests under mpirun -np 1, 2, 4 (ranks share the GPU(s));
#   5. runs gqa-generate --backend cuda on tests/fixtures/models/gqa at -np 1 (--comm nccl) and
#      -np 2 and 4 (--comm mpi) and compares the greedy tokens with reference.json (f32: all equal;
#      bf16: the first token equal, the rest reported);
#   6. runs the attention benchmark (build/bin/gqa-attn-bench --sweep: also a split-count sweep);
# and prints a summary table LAST (PASS / FAIL / CUT / SKIP per step), also written to
# bench/results/gpu-check-<gpu>-<date>.md. Every step has a timeout; a step that the box's end
# (GQA_CHECK_BUDGET_S) stopped before its own limit, with no test case failed in its log, is CUT,
# not FAIL: not checked to the end, nothing seen wrong. The exit status is 1 if any step failed, 3
# if none failed but nothing was built (the box too small), 4 if none failed but the box cut a
# step, else 0.
#
# --bench (issue 5) replaces steps 3-7 with gqa-bench inside one box: configure, build only
# gqa-bench (time-boxed), then `gqa-bench --all` with the time that is left as its budget (each
# of its sections is time-boxed inside; the 8B comparison uses 8 of the 32 layers to fit); its
# report (bench/results/<gpu>-<date>.md) is printed last, after the step summary.
# --all does both in one box (one device call): one build, steps 3-6, gqa-bench with what is left
# less GQA_MEMCHECK_RESERVE_S (default 90), then step 7 (memcheck) in the rest.
#
# --quick re-checks kernel changes in one short device call (GQA_CHECK_BUDGET_S default 540): one
# build, the SASS checks, the GPU tests (ctest -j 4, each test limited to 180 s; then the mma
# prefill's tests and each wgmma build's, each in a process of its own, side by side), the
# attention benchmark, gqa-generate bf16 at -np 1 and 2 with the default kernels, gqa-bench in two
# processes of fixed budgets (the prefill at 8K and 32K through every kernel build with the
# producer and TMA builds' ablations, GQA_QUICK_PREFILL_BENCH_S default 60; the decode at 8K-128K, batch 1
# and 16, the other kernel choices, the step ablation, the GEMV sweep and the SDPA peer,
# GQA_QUICK_DECODE_BENCH_S default 90), the np 2 MPI sampling test, gqa-generate bf16 with each
# opt-in group (as --decode), then memcheck of the kernel tests (not sampling, graph cache, pinned
# staging; the tests of unrun code first: GQA_MEMCHECK_FIRST) and the top-k racecheck in what is
# left.
#
# --decode re-checks a decode-path change in one short device call (GQA_CHECK_BUDGET_S default
# 300): builds only what it runs; the decode attention, decode-cluster, fused-merge, grouped-copy,
# decode GEMV, norm-prologue and model tests (default and opt-in kernels); gqa-generate bf16 at -np
# 1 and 2 (and 2 with unfused GEMVs, 1 and 2 with the norm prologue and fused merge, 1 with the
# per-thread GEMVs, 1 with the ring GEMVs, 2 with the ring GEMVs and the norm prologue, 1 with the
# PDL trigger after the wait, 1 and 2 with the persistent MLP kernel); the attention
# benchmark's sweep; gqa-bench's decode section (8K-128K, batch 1 and 16, steps timed 20 times, the
# other kernel choices' pass, the GEMV launch sweep, the SDPA peer); Nsight Systems on whole decode steps as --profile does
# (where the machine has nsys); the split merge's test under racecheck, the fused merge's, the
# norm prologue's, the grouped copies', the bulk GEMV's, the ring GEMV's and the persistent MLP
# kernel's under memcheck.
#
# --prefill re-checks a prefill-path change in one short device call (GQA_CHECK_BUDGET_S default
# 300): builds only what it runs; side by side, the model tests (default and opt-in kernels, every
# wgmma build inside the whole model against transformers), the TMA tiles' test, each wgmma
# build's test process (the TMA build's late-turn and overlap variants among them), the
# TMA-vs-swizzle and late-turns-vs-TMA tests and the two ablations' (producer, TMA); gqa-generate
# bf16 at -np 1 and 2 (and 1 with GQA_PREFILL_WGMMA_TMA=0, the swizzle build, and with the
# swizzle off too, the producer build; 1 with late turns, 2 with GQA_PREFILL_WGMMA_TMA_OVERLAP=0,
# the TMA build without the default overlap; 1 with the lazy rescale); the TMA tiles' test and the default, TMA, swizzle
# and late-turn builds' cases under memcheck; then
# gqa-bench's prefill at 8K, 32K and 128K (the model's chunked prefill, every kernel build, the
# ablation, the page sizes; its whole-model table times the default kernel's attention in
# 8192-token chunks beside the default 4096).
#
# --choices (GQA_CHECK_BUDGET_S default 300; no tests: run it after a passing check, e.g. on the
# same warm machine) measures what the opt-in kernels are to be chosen by: gqa-attn-bench --sweep,
# then gqa-bench at 8K and 32K (batch 1 and 16: steps with every other kernel choice, the GEMV
# launch sweep, the read ceilings) and its prefill at 8K through every prefill kernel.
#
# --profile runs Nsight Compute (ncu, when the machine has it and allows GPU counters) on the
# decode-step kernels: the decode attention and its merge (gqa-attn-bench; alone at 128K and 32K
# batch 16 too), the prefill attention (an 8K prompt's chunks) and the other ops of a
# 2-layer 70B T=8 shard's decode at batch 1 (gqa-bench's per-op section), with the speed-of-light,
# memory, occupancy, launch and warp-state sections; the reports land in the logs tarball. Then
# Nsight Systems (nsys, when present) on whole decode steps of a 16-layer shard at 8K, batch 1 and
# 16: each kernel's time inside real steps (graphs traced node by node); its summary goes in the report.
#
# The whole run fits a box (GQA_CHECK_BUDGET_S, default 540 s, so one device call of 600 s returns
# its summary): every step's timeout is cut to what is left, and steps that no longer fit are
# SKIPped, in this order of value: build, GPU tests, gqa-generate, multi-rank tests, attention
# benchmark, memcheck (--quick: build, GPU tests, benchmarks, gqa-generate, memcheck). With $OUT
# set (the device tool), gqa-bench writes its reports there and the step report and the logs are
# rewritten there after every step, so a run killed at the call's limit still returns them. Step 0 probes the machine (compiler, nvcc, CMake, MPI, NCCL, PyTorch) and
# sources launch/device-env.sh, which uses .devdeps/ (launch/device-deps.sh; carry it) for what
# the GPU image lacks.
#
# usage: launch/gpu-check.sh [--bench | --all | --quick | --decode | --prefill | --profile | --choices]  (from anywhere; works in the repository root)
# env:   GQA_GPU_BUILD_DIR (default build-gpu), GQA_MPI_HOME (where bin/mpirun is, if not on PATH),
#        GQA_GPU_CHECK_JOBS (build parallelism, default nproc), GQA_CHECK_BUDGET_S (default 540),
#        GQA_MEMCHECK_FIRST (the kernel tests memcheck runs first, space-separated),
#        GQA_MEMCHECK_JOBS (step 7's memchecks at a time, default 4; 1: one after another);
#        GQA_REQUIRE_GPU is set to 1 for every step (no device: a test fails rather than skips);
#        --bench: GQA_BENCH_TOTAL_S (the box, default 500), GQA_BENCH_PEER_LAYERS (default 8),
#        GQA_BENCH_ARGS (more gqa-bench flags)
set -u -o pipefail

memcheck_jobs=${GQA_MEMCHECK_JOBS:-4}
case "$memcheck_jobs" in
  '' | *[!0-9]* | 0) echo "gpu-check: GQA_MEMCHECK_JOBS=$memcheck_jobs: give a count of 1 or more" >&2; exit 2 ;;
esac

mode=check
case "${1:-}" in
  "") ;;
  --bench) mode=bench ;;
  --all) mode=all ;;
  --quick) mode=quick ;;
  --decode) mode=decode ;;
  --prefill) mode=prefill ;;
  --profile) mode=profile ;;
  --choices) mode=choices ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) echo "usage: launch/gpu-check.sh [--bench | --all | --quick | --decode | --prefill | --profile | --choices]" >&2; exit 2 ;;
esac
bench_total_s="${GQA_BENCH_TOTAL_S:-500}"
# --bench: configure and build must leave gqa-bench most of the box.
configure_limit=300 build_limit=1500
if [ "$mode" = bench ]; then configure_limit=120 build_limit=$((bench_total_s / 2)); fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 2
build="${GQA_GPU_BUILD_DIR:-build-gpu}"
jobs="${GQA_GPU_CHECK_JOBS:-$(nproc 2>/dev/null || echo 4)}"
logs="$build/gpu-check-logs"
# A warm machine keeps the build directory: an earlier run's logs (already sent back in its $OUT)
# must not stand in this run's report for a step that is skipped now.
rm -rf "$logs"
mkdir -p "$logs" bench/results
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# -DGQA_CUDA=ON skips CMakeLists' /usr/local/cuda/bin/nvcc default, and CMake finds nvcc only on PATH
# (or $CUDA_PATH/bin): without this a machine whose shell lacks /usr/local/cuda/bin fails to configure.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="/usr/local/cuda/bin:$PATH"; fi
t_start=$SECONDS
budget_s="${GQA_CHECK_BUDGET_S:-540}"
[ "$mode" = decode ] && budget_s="${GQA_CHECK_BUDGET_S:-300}"
[ "$mode" = prefill ] && budget_s="${GQA_CHECK_BUDGET_S:-300}"
[ "$mode" = choices ] && budget_s="${GQA_CHECK_BUDGET_S:-300}"
[ "$mode" = bench ] && budget_s=$((bench_total_s + 30))
checking=0 benching=0  # which parts run: check (steps 3-7), bench (gqa-bench)
[ "$mode" != bench ] && [ "$mode" != profile ] && [ "$mode" != choices ] && checking=1
[ "$mode" != check ] && [ "$mode" != profile ] && [ "$mode" != quick ] && benching=1  # (--quick: quick_bench)
left_s() { echo $((budget_s - (SECONDS - t_start))); }

names=()
states=()
notes=()
gpu_name="nogpu"
run_stamp=$(date +%Y%m%d-%H%M%S)
bench_log=""
bench_reports=()
# With $OUT (the device tool brings back what is under it, also from a command killed at its
# limit): gqa-bench writes its reports there (it saves after every section), and the step report
# and the logs are rewritten there after every step, so a killed run still returns all but its last step.
out_dir=""
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then out_dir=$OUT; fi
bench_dir=bench/results
[ -z "$out_dir" ] || bench_dir=$out_dir
# The device tool copies the working tree beside the .git of the session's start: name both.
tree_note=""
git diff --quiet HEAD 2>/dev/null || tree_note=" + working-tree changes (a copied tree: see the commit that sent it)"
report_path() {
  if [ "$gpu_name" = nogpu ]; then echo "$logs/gpu-check-nogpu.md"  # bench/results/ holds runs on a GPU only
  else echo "bench/results/gpu-check-${gpu_name}-${run_stamp}.md"; fi
}
record() {  # name state note
  names+=("$1")
  states+=("$2")
  notes+=("$3")
  echo "== $2  $1${3:+  ($3)}"
  write_report "$(running_note)"
}
# The steps under way (step, bg_step), named in the report's heading while they run: a run killed
# at the device call's limit says which step it was in.
running=()
running_note() {
  local IFS=';'
  echo "still running: the steps so far${running[*]:+; now in: ${running[*]}}"
}

# fit_limit NAME TIMEOUT_S: sets `fitted` to the step's limit cut to what is left of the box (less
# room for the summary); false, with NAME recorded as SKIP, when under 20 s would be left.
fit_limit() {
  local left=$(( $(left_s) - 25 ))
  if [ "$left" -lt 20 ]; then
    record "$1" SKIP "out of time: ${budget_s}s box (GQA_CHECK_BUDGET_S) spent"
    return 1
  fi
  fitted=$2
  [ "$fitted" -le "$left" ] || fitted=$left
}
# record_run NAME RC LIMIT SECONDS LOG [NOTE] [ASKED]: PASS (its seconds, then NOTE), or FAIL saying
# why, with the log's tail; CUT where it timed out at a LIMIT the box had cut below the ASKED one
# and its log shows no failed test case (run 12's build tests: 58-62 cases passed each when the
# box ended them, and a FAIL there read as eight failures).
record_run() {
  local note ok bad
  if [ "$2" -eq 0 ] && grep -q 'Running 0 tests' "$5" 2>/dev/null; then  # (a filter matching no test passes)
    record "$1" FAIL "no test matched its filter; log $5"
    return
  fi
  if [ "$2" -eq 0 ]; then
    record "$1" PASS "${4}s${6:-}"
    return
  fi
  if [ "$2" -eq 77 ]; then  # (a test program whose every case skipped: tests/support/skip_exit.h)
    record "$1" SKIP "every test case skipped (exit 77); log $5"
    return
  fi
  if { [ "$2" -eq 124 ] || [ "$2" -eq 137 ]; } && [ "${7:-0}" -gt "$3" ] &&
     ! grep -q '^\[  FAILED  \]' "$5" 2>/dev/null; then
    ok=$(grep -c '^\[       OK \]' "$5" 2>/dev/null)
    record "$1" CUT "the box ended it after ${3}s of its ${7}s (${ok:-0} test cases passed, none failed); log $5"
    return
  fi
  if [ "$2" -eq 124 ] || [ "$2" -eq 137 ]; then note="timed out after ${3}s"; else note="exit $2 after ${4}s"; fi
  bad=$(grep -m 3 '^\[  FAILED  \]' "$5" 2>/dev/null | cut -c1-120 | tr '\n' ' ')
  record "$1" FAIL "$note${bad:+: $bad}; log $5"
  tail -n 25 "$5" | sed 's/^/   | /'
}
# How many steps are in state $1 so far.
count_state() {
  local s n=0
  for s in "${states[@]}"; do [ "$s" = "$1" ] && n=$((n + 1)); done
  echo "$n"
}
log_of() { echo "$logs/${1//[^A-Za-z0-9_.-]/_}.log"; }

# step NAME TIMEOUT_S CMD...: runs CMD with a timeout, output to $logs/NAME.log; PASS on exit 0.
step() {
  local name=$1 limit=$2 asked=$2
  shift 2
  local log t0=$SECONDS rc
  log=$(log_of "$name")
  fit_limit "$name" "$limit" || return 125
  limit=$fitted
  echo "-- $name: $*" | cut -c1-200
  running=("$name")
  write_report "$(running_note)"
  # stdin from /dev/null: timeout runs the command outside the terminal's foreground group, where
  # mpirun (which forwards stdin to rank 0) would be stopped by SIGTTIN and sit until the timeout.
  timeout --kill-after=15 "$limit" "$@" </dev/null >"$log" 2>&1
  rc=$?
  running=()
  record_run "$name" $rc "$limit" $((SECONDS - t0)) "$log" "" "$asked"
  return $rc
}

# bg_step NAME TIMEOUT_S CMD...: step's run, in the background (processes of their own beside each
# other: the GPU time-slices between them, and the tests' CPU references, most of their time, use
# the cores); wait_steps waits for them all and records each as it ends (a run killed while some
# still run has the others' results in its report).
bg_names=() bg_pids=() bg_logs=() bg_limits=() bg_asked=() bg_t0=()
bg_step() {
  local name=$1 limit=$2
  shift 2
  fit_limit "$name" "$limit" || return 0
  echo "-- $name (beside others): $*" | cut -c1-200
  bg_logs+=("$(log_of "$name")")
  bg_t0+=("$(date +%s)")
  # (its end time beside the log: the step's own seconds, and the sign wait_steps polls for)
  ( timeout --kill-after=15 "$fitted" "$@" </dev/null >"${bg_logs[-1]}" 2>&1
    rc=$?
    date +%s >"${bg_logs[-1]}.end"
    exit $rc ) &
  bg_pids+=($!)
  bg_names+=("$name")
  bg_limits+=("$fitted")
  bg_asked+=("$limit")
  running+=("$name")
  write_report "$(running_note)"
}
# reap_steps: records the background steps that have ended (each as it ended: its own seconds)
# and drops them from the lists (unset: the lists' indices stay the steps' own); the others keep
# running.
reap_steps() {
  local i j rc end name limit log asked t0
  for i in "${!bg_pids[@]}"; do
    # (a step has ended when its .end file exists (its subshell writes it last) or its process
    # is gone; wait then returns its status)
    if [ ! -e "${bg_logs[$i]}.end" ] && kill -0 "${bg_pids[$i]}" 2>/dev/null; then continue; fi
    wait "${bg_pids[$i]}"
    rc=$?
    end=$(cat "${bg_logs[$i]}.end" 2>/dev/null || date +%s)
    name=${bg_names[$i]} limit=${bg_limits[$i]} log=${bg_logs[$i]} asked=${bg_asked[$i]} t0=${bg_t0[$i]}
    unset 'bg_names[i]' 'bg_pids[i]' 'bg_logs[i]' 'bg_limits[i]' 'bg_asked[i]' 'bg_t0[i]'
    running=()
    for j in "${!bg_pids[@]}"; do [ -e "${bg_logs[$j]}.end" ] || running+=("${bg_names[$j]}"); done
    record_run "$name" $rc "$limit" $((end - t0)) "$log" " (beside others)" "$asked"
  done
  running=(${bg_names[@]+"${bg_names[@]}"})
}
# bg_slots N: waits (recording what ends) until fewer than N background steps run.
bg_slots() {
  reap_steps
  while [ ${#bg_pids[@]} -ge "$1" ]; do
    sleep 1
    reap_steps
  done
}
wait_steps() {
  bg_slots 1
  running=()
}
# Whether the step NAME was recorded as PASS.
step_passed() {
  local i
  for i in "${!names[@]}"; do [ "${names[$i]}" = "$1" ] && [ "${states[$i]}" = PASS ] && return 0; done
  return 1
}

# The step report (bench/results/gpu-check-<gpu>-<date>.md; the logs folder without a GPU), with
# the steps so far; copied with the logs into $OUT. $1: a note for its heading ("running").
write_report() {
  local report failed cut i
  report=$(report_path)
  failed=$(count_state FAIL)
  cut=$(count_state CUT)
  {
    echo "# gpu-check on ${gpu_name} ($(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)${tree_note})"
    echo
    [ -s "$logs/nvidia-smi.log" ] && sed 's/^/    /' "$logs/nvidia-smi.log" && echo
    for csv in "$logs"/decode-kernels-b*_cuda_gpu_kern_sum.csv; do
      [ -s "$csv" ] || continue
      echo "## kernels inside decode steps ($(basename "$csv" .csv), nsys: time %, total ns, instances, avg ns, ..., name)"
      echo
      head -n 16 "$csv" | cut -c1-220 | sed 's/^/    /'
      echo
    done
    if [ -n "$bench_log" ] && [ -s "$bench_log" ]; then
      echo "## gqa-attn-bench"
      echo
      attn_bench_excerpt "$bench_log" | sed 's/^/    /'
      echo
    fi
    echo "## summary ($(( SECONDS - t_start ))s, ${failed} failed$([ "$cut" -eq 0 ] || echo ", $cut cut by the box")${1:+, $1})"
    echo
    echo "| step | result | note |"
    echo "|---|---|---|"
    for i in "${!names[@]}"; do echo "| ${names[$i]} | ${states[$i]} | ${notes[$i]//|/\\|} |"; done
  } >"$report.tmp" && mv "$report.tmp" "$report"
  if [ -n "$out_dir" ]; then  # (each through a .tmp and a rename: a kill mid-write keeps the last whole copy)
    cp "$report" "$out_dir/$(basename "$report").tmp" 2>/dev/null &&
      mv "$out_dir/$(basename "$report").tmp" "$out_dir/$(basename "$report")"
    tar -czf "$out_dir/gpu-check-logs.tar.gz.tmp" -C "$build" gpu-check-logs 2>/dev/null &&
      mv "$out_dir/gpu-check-logs.tar.gz.tmp" "$out_dir/gpu-check-logs.tar.gz"
  fi
}

# gqa-attn-bench's log from the copy bandwidth line on (the main table, the fit, the fixed parts
# and the sweep: more than a fixed tail holds); the last 40 lines if that line is missing (a failed
# run). For step 6 and --choices' report alike.
attn_bench_excerpt() {
  if grep -q '^device-to-device copy:' "$1"; then sed -n '/^device-to-device copy:/,$p' "$1"; else tail -n 40 "$1"; fi
}

# --- 1. GPU -------------------------------------------------------------------------------------
# Every program from here on refuses to run without a device (kernels/cuda/device_info.h): a GPU
# test that finds none (a broken driver or runtime) fails here instead of skipping and passing.
export GQA_REQUIRE_GPU=1
if command -v nvidia-smi >/dev/null 2>&1 && timeout 30 nvidia-smi -L >"$logs/nvidia-smi.log" 2>&1; then
  cat "$logs/nvidia-smi.log"
  gpu_name=$(timeout 30 nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 |
             tr -c 'A-Za-z0-9\n' '-' | tr -s '-' | sed 's/^-//; s/-$//')
  [ -n "$gpu_name" ] || gpu_name="gpu"
  record "nvidia-smi -L" PASS "$(wc -l <"$logs/nvidia-smi.log") GPU(s): $gpu_name"
else
  record "nvidia-smi -L" FAIL "nvidia-smi missing or failing: no usable GPU here"
fi
gpu_count=$( (timeout 30 nvidia-smi -L 2>/dev/null || true) | grep -c '^GPU' || true)

# --- 1b. the machine: tools and libraries the build needs (printed; a missing one is named) ------
probe() {
  echo "uname: $(uname -srm)"
  [ -r /etc/os-release ] && echo "os: $(. /etc/os-release && echo "${PRETTY_NAME:-?}")"
  for tool in c++ g++ gcc nvcc cmake ninja mpirun mpicxx python3 compute-sanitizer ncu nsys; do
    printf '%s: %s\n' "$tool" "$(command -v "$tool" || echo MISSING)"
  done
  c++ --version 2>/dev/null | head -n 1
  nvcc --version 2>/dev/null | tail -n 2 | head -n 1
  cmake --version 2>/dev/null | head -n 1
  echo "cuBLAS: $(ls "${gqa_cuda_root:-/usr/local/cuda}"/lib64/libcublasLt.so* 2>/dev/null | head -n 1 || echo none in the toolkit)"
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>/dev/null || echo "torch: none"
}
# shellcheck source=launch/device-env.sh
. "$root/launch/device-env.sh" >"$logs/device-env.log" 2>&1
cat "$logs/device-env.log"
probe >"$logs/probe.log" 2>&1
cat "$logs/probe.log"
missing=$(grep -E '^(c\+\+|nvcc|cmake|mpirun): MISSING' "$logs/probe.log" | cut -d: -f1 | tr '\n' ' ')
if [ -z "$missing" ]; then record "machine probe" PASS "$(head -c 80 <<<"$(c++ --version 2>/dev/null | head -n 1)")"
else record "machine probe" FAIL "missing: $missing(see $logs/probe.log)"; fi
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)

# --- 2. configure and build ---------------------------------------------------------------------
configured=0
test_timeout=600
[ "$mode" = quick ] && test_timeout=180
if step "configure (sm_90a;sm_90)" "$configure_limit" cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
     -DGQA_CUDA=ON "-DGQA_TEST_TIMEOUT=$test_timeout" "${GQA_DEVICE_CMAKE_ARGS[@]}" "-DCMAKE_CUDA_ARCHITECTURES=90a;90"; then
  configured=1
else
  first=$((${#states[@]} - 1))
  if step "configure (-gencode fallback)" "$configure_limit" cmake -S . -B "$build" "${generator[@]}" \
       -DCMAKE_BUILD_TYPE=Release -DGQA_CUDA=ON "-DGQA_TEST_TIMEOUT=$test_timeout" "${GQA_DEVICE_CMAKE_ARGS[@]}" -DCMAKE_CUDA_ARCHITECTURES=OFF \
       "-DCMAKE_CUDA_FLAGS=-gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_90,code=sm_90"; then
    configured=1
    states[first]=SKIP  # this CMake refused "90a"; the explicit -gencode flags did the same job
  fi
fi
built=0
# Only what the check runs: the GPU tests, the multi-rank CUDA tests, gqa-generate, the benchmarks.
build_targets=(--target gqa-generate gqa-attn-bench mpi_test_cuda_communicator mpi_test_cuda_model_mpi)
for src in tests/cuda/test_*.cpp; do t=$(basename "$src" .cpp); build_targets+=("cuda_$t"); done
[ "$mode" = bench ] && build_targets=(--target gqa-bench)
[ "$mode" = profile ] || [ "$mode" = choices ] && build_targets=(--target gqa-bench gqa-attn-bench)
[ "$mode" = all ] || [ "$mode" = quick ] && build_targets+=(gqa-bench)
decode_tests=(cuda_test_attention cuda_test_attention_decode_cluster cuda_test_attention_decode_fused_merge
              cuda_test_attention_decode_groups cuda_test_gemv cuda_test_gemv_bulk cuda_test_gemv_ring
              cuda_test_gemv_swiglu cuda_test_gemv_rope cuda_test_gemv_norm cuda_test_mlp_persistent cuda_test_cuda_model
              cuda_test_cuda_model_opt_in)
[ "$mode" = decode ] && build_targets=(--target gqa-generate gqa-attn-bench gqa-bench "${decode_tests[@]}")
prefill_tests=(cuda_test_cuda_model cuda_test_cuda_model_opt_in cuda_test_prefill_tma_tiles
               cuda_test_attention_prefill_wgmma cuda_test_attention_prefill_wgmma_ablation)
[ "$mode" = prefill ] && build_targets=(--target gqa-generate gqa-bench "${prefill_tests[@]}")
if [ $configured -eq 1 ] && step "build ($(( ${#build_targets[@]} - 1 )) targets)" "$build_limit" \
     cmake --build "$build" -j "$jobs" "${build_targets[@]}"; then
  built=1
fi

# --- 2b. what the kernels' sources count on, in this toolkit's SASS (launch/sass_check.py: loads
# in flight in the decode GEMVs and the read ceilings, the wgmma overlap build's softmax between
# its waits). A miss is a WARN (a performance assumption, not a wrong result), named in the report.
if [ $built -eq 1 ]; then
  sass_log="$logs/sass-check.log"
  timeout 120 python3 launch/sass_check.py "$build" >"$sass_log" 2>&1
  case $? in
    0) record "SASS checks" PASS "$(tail -n 1 "$sass_log")" ;;
    2) record "SASS checks" SKIP "$(tail -n 1 "$sass_log")" ;;
    *) record "SASS checks" WARN "$(tail -n 1 "$sass_log"); log $sass_log"
       grep '| NO |' "$sass_log" | head -n 20 | sed 's/^/   | /' ;;
  esac
fi

# mpirun, and gqa-generate's check against the fixture's reference tokens (steps 4-5; --quick runs
# the default kernels' two before its benches)
mpirun_bin=$(command -v mpirun || true)
if [ -z "$mpirun_bin" ]; then
  echo "mpirun is not on PATH; looking for \$GQA_MPI_HOME/bin/mpirun (GQA_MPI_HOME=${GQA_MPI_HOME:-unset})"
  if [ -n "${GQA_MPI_HOME:-}" ] && [ -x "${GQA_MPI_HOME}/bin/mpirun" ]; then mpirun_bin="${GQA_MPI_HOME}/bin/mpirun"; fi
fi
mpi_flags=(--oversubscribe --bind-to none)
fixture=tests/fixtures/models/gqa
ref_field() { python3 -c "import json,sys; print(','.join(map(str, json.load(open(sys.argv[1]))[sys.argv[2]])))" \
                "$fixture/reference.json" "$1"; }
# generate NP COMM DTYPE [VAR=VALUE ...]: tokens vs reference.json (f32: all equal; bf16/f16:
# first token equal); each VAR=VALUE is set for every rank (mpirun -x).
generate() {
  local np=$1 comm=$2 dtype=$3
  shift 3
  local name="gqa-generate np$np --comm $comm --dtype $dtype${*:+ $*}"
  local envs=() kv
  for kv in "$@"; do envs+=(-x "$kv"); done
  local prompt expected n_new out got
  if ! prompt=$(ref_field prompt_tokens) || ! expected=$(ref_field generated_tokens); then
    record "$name" FAIL "cannot read $fixture/reference.json"
    return
  fi
  n_new=$(awk -F, '{print NF}' <<<"$expected")
  if ! step "$name" 300 "$mpirun_bin" "${mpi_flags[@]}" "${envs[@]}" -np "$np" "$build/bin/gqa-generate" --model "$fixture" \
       --backend cuda --comm "$comm" --dtype "$dtype" --prompt-tokens "$prompt" --max-new-tokens "$n_new" \
       --temperature 0 --ignore-eos; then
    return
  fi
  out=$(grep '^{' "$(log_of "$name")" | tail -n 1)
  got=$(python3 -c "import json,sys; print(','.join(map(str, json.loads(sys.argv[1])['generated_tokens'])))" \
        "$out" 2>/dev/null)
  # Replace the PASS the run itself earned with the verdict on its tokens.
  unset 'names[-1]' 'states[-1]' 'notes[-1]'
  if [ "$got" = "$expected" ]; then
    record "$name" PASS "tokens equal reference.json"
  elif [ "$dtype" != f32 ] && [ "${got%%,*}" = "${expected%%,*}" ]; then
    local same
    same=$(python3 -c "import sys; a=sys.argv[1].split(','); b=sys.argv[2].split(','); print(sum(x==y for x,y in zip(a,b)))" "$got" "$expected")
    record "$name" PASS "first token equal, $same/$n_new equal ($dtype rounding may flip low-margin tokens): got $got"
  else
    record "$name" FAIL "got '$got', expected '$expected'"
  fi
}
# the default kernels end to end at np 1 (NCCL) and 2 (MPI, sharing the GPU)
default_generates() {
  generate 1 nccl bf16
  generate 2 mpi bf16
  # if that failed: again with the candidates picked on the host (greedy: tells the GPU argmax of
  # each rank's slice from the rest of the run)
  if [ "${states[-1]}" = FAIL ]; then generate 2 mpi bf16 GQA_GPU_TOP_K=0; fi
}
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
  for b in "$wgmma_default_build" tma swizzle tma_late; do  # (the default build first)
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
# Steps 3-6 are the check; --bench skips them.
if [ $checking -eq 1 ]; then

# --- 3. GPU tests -----------------------------------------
# Their CPU references took ~70 s single-threaded (run 1); cpu::attention now spreads large calls
# over the cores, so --quick runs them as a step of their own after the rest.
slow_mma='CudaPrefillMmaCases.Prompt2000:CudaPrefillMmaCases.ChunkAfterLongContext'
# The wgmma prefill's builds in processes of their own: a trap in the ping-pong build (its
# mbarrier watchdog) poisons its process's CUDA context, and must not hide the basic build's result.
# Each took ~16 s in run 3 and 64-68 s side by side in run 10 (six builds then, eight now): 180 s
# bounds what a hang (a barrier mismatch has no watchdog) can cost.
# A build whose test fails is left out of gqa-bench's prefill table (GQA_BENCH_SKIP_WGMMA), so a
# hang or trap there cannot take the rest of the bench down.
wgmma_build_names=(basic pingpong producer overlap swizzle tma tma_late tma_overlap)  # GQA_TEST_WGMMA_BUILD's values
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
  guard_mlp_choice
elif [ $built -eq 1 ] && [ "$mode" = prefill ]; then
  for t in cuda_test_cuda_model cuda_test_cuda_model_opt_in cuda_test_prefill_tma_tiles; do
    bg_step "$t" 180 "$build/tests/$t"
  done
  wgmma_builds  # (waits for all of them)
elif [ $built -eq 1 ] && [ "$mode" = quick ]; then
  # -j 4: the tests' CPU references are most of their time (run 6: 190 s one at a time, the longest
  # cuda_test_attention's 62 s); each test's limit is GQA_TEST_TIMEOUT (180 s: configured above).
  step "ctest -L gpu -j 4 (not the mma and wgmma prefill)" 300 ctest --test-dir "$build" -L gpu -j 4 \
    -E 'cuda_test_attention_prefill_(mma|wgmma|wgmma_ablation)$' --output-on-failure
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
    -E 'cuda_test_attention_prefill_(mma|wgmma|wgmma_ablation)$' --output-on-failure --timeout 300
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
  if [ "$gpu_count" -ge 2 ]; then generate 2 nccl f32; fi
else
  record "gqa-generate --backend cuda" SKIP "no build or no mpirun"
fi

# --prefill: the memchecks before gqa-bench, which takes what is left of the box
if [ "$mode" = prefill ] && [ $built -eq 1 ]; then prefill_memchecks; fi

# --- 6. attention benchmark (added by the attention kernels' issue; --quick ran it after its tests)
[ "$mode" = quick ] || [ "$mode" = prefill ] || attn_bench_step
fi  # checking


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

# --- 7. the kernel tests again under compute-sanitizer memcheck (slowest: last) ------------------
if [ $checking -eq 1 ] && [ $built -eq 1 ] && [ "$mode" != decode ] && [ "$mode" != prefill ]; then
  sanitizer=$(sanitizer_path)
  if [ -z "$sanitizer" ]; then
    record "compute-sanitizer memcheck" SKIP "compute-sanitizer not found (PATH, /usr/local/cuda/bin)"
  else
    # The small tests first, the attention tests last: under memcheck the mma prefill's shape sweep
    # and long prompts take many minutes (run 1 spent the box on them), so only its cases run there.
    order=()
    for exe in "$build"/tests/cuda_test_*; do
      case "$(basename "$exe")" in
        # the model tests: ctest covers them; the attention tests: last, below
        cuda_test_cuda_model | cuda_test_cuda_model_opt_in | cuda_test_attention | cuda_test_attention_prefill_mma | \
          cuda_test_attention_prefill_wgmma) ;;
        *) order+=("$(basename "$exe")") ;;
      esac
    done
    order+=(cuda_test_attention cuda_test_attention_prefill_wgmma cuda_test_attention_prefill_mma)
    # The tests of kernel code no GPU has run yet go first (the box ran out in runs 6, 8 and 10):
    # GQA_MEMCHECK_FIRST (space-separated test names) overrides the list: the persistent MLP
    # kernel's and the wgmma prefill's (its lazy rescale), both twenty-first session.
    first=(${GQA_MEMCHECK_FIRST:-cuda_test_mlp_persistent cuda_test_attention_prefill_wgmma})
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
        cuda_test_attention) [ "$mode" = quick ] && filter=("--gtest_filter=CudaAttentionDecodeSplits.*") ;;
        cuda_test_cuda_sampling | cuda_test_graph_cache | cuda_test_pinned_staging) [ "$mode" = quick ] && continue ;;
        cuda_test_attention_prefill_wgmma_ablation) continue ;;  # a timing aid's kernels, not the product's
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

# --- summary (printed last) ---------------------------------------------------------------------
failed=$(count_state FAIL)
cut=$(count_state CUT)
write_report
report=$(report_path)
print_bench_report() {
  local r
  for r in "${bench_reports[@]}"; do
    [ -s "$r" ] || continue
    echo
    cat "$r"
  done
}
# The step summary last (a caller that keeps only the output's tail keeps it), except with --bench,
# whose purpose is gqa-bench's table: that comes last, after the summary.
[ "$mode" = bench ] || print_bench_report
echo
echo "report: $report"
echo
printf '%-44s %-5s %s\n' STEP RESULT NOTE
for i in "${!names[@]}"; do printf '%-44s %-5s %s\n' "${names[$i]}" "${states[$i]}" "${notes[$i]}"; done
echo "gpu-check: ${#names[@]} steps, $failed failed$([ "$cut" -eq 0 ] || echo ", $cut cut by the box (GQA_CHECK_BUDGET_S)"), $(( SECONDS - t_start ))s"
[ "$mode" != bench ] || print_bench_report
[ $failed -eq 0 ] || exit 1
# nothing failed, but nothing was built either (a box too small for the build): not a pass
if [ $built -ne 1 ]; then echo "gpu-check: nothing was built, so nothing was checked" >&2; exit 3; fi
# nothing failed, but the box ended a step before its own limit: not checked to the end
[ "$cut" -eq 0 ] || exit 4
