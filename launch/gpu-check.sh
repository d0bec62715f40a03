#!/usr/bin/env bash
# launch/gpu-check.sh: the one GPU check of gqa (issue 4). On a machine with an NVIDIA GPU:
#   1. lists the GPUs (nvidia-smi -L);
#   2. configures and builds for sm_90a + sm_90 (CMAKE_CUDA_ARCHITECTURES="90a;90", accepted by
#      CMake >= 3.24; falls back to explicit -gencode flags if that configure fails), then checks
#      in the built SASS what the kernels count on (launch/sass_check.py: WARN on a miss);
#   3. runs the GPU tests (ctest -L gpu, 4 at a time; the prefill tests in processes of their own
#      beside them);
#   4. runs the multi-rank CUDA tests under mpirun -np 1, 2, 4 (ranks share the GPU(s));
#   5. runs gqa-generate --backend cuda on tests/fixtures/models/gqa at -np 1 (--comm nccl) and
#      -np 2 and 4 (--comm mpi) and compares the greedy tokens with reference.json (f32: all equal;
#      bf16: the first token equal, the rest reported);
#   6. runs the attention benchmark (build-gpu/bin/gqa-attn-bench --sweep, $GQA_GPU_BUILD_DIR/bin
#      where that is set: also a split-count sweep);
#   7. runs the kernel tests again under compute-sanitizer memcheck, in what is left of the box;
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
# staging; the longest first, GQA_MEMCHECK_FIRST before them) and the top-k racecheck in what is
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
# SKIPped, in this order of value: build, GPU tests, multi-rank tests, gqa-generate, attention
# benchmark, memcheck (--quick: build, GPU tests, benchmarks, gqa-generate, memcheck). With $OUT
# set (the device tool), gqa-bench writes its reports there and the step report and the logs are
# rewritten there after every step, so a run killed at the call's limit still returns them. Step 0 probes the machine (compiler, nvcc, CMake, MPI, NCCL, PyTorch) and
# sources launch/device-env.sh, which uses .devdeps/ (launch/device-deps.sh; carry it) for what
# the GPU image lacks.
#
# The steps live in launch/gpu_check/ (build.sh, tests.sh, bench.sh, profile.sh, memcheck.sh, and
# the step runner steps.sh), sourced by this script in order.
#
# usage: launch/gpu-check.sh [--bench | --all | --quick | --decode | --prefill | --profile | --choices]  (from anywhere; works in the repository root)
# env:   GQA_GPU_BUILD_DIR (default build-gpu), GQA_MPI_HOME (where bin/mpirun is, if not on PATH),
#        GQA_GPU_CHECK_JOBS (build parallelism, default nproc), GQA_CHECK_BUDGET_S (default 540),
#        GQA_MEMCHECK_FIRST (kernel tests memcheck runs before its longest-first list, space-separated),
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

# The parts, in the order they run (each file says what it holds). A part's status is its last
# command's, which may fail as any step may: only a part that cannot be read stops the run.
for part in steps build generate skip_lists memcheck_steps tests bench profile memcheck; do
  [ -r "$root/launch/gpu_check/$part.sh" ] || { echo "gpu-check: cannot read launch/gpu_check/$part.sh" >&2; exit 2; }
  # shellcheck source=/dev/null
  source "$root/launch/gpu_check/$part.sh"
done


# --- summary (printed last) ---------------------------------------------------------------------
sass_check_record  # (where no step recorded it yet)
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
