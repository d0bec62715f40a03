# launch/gpu_check/steps.sh: part of launch/gpu-check.sh, which sources it (in its shell, with its
# variables and functions); not run on its own.
# The step runner and the report: the time box (left_s, fit_limit), record / step / bg_step and
# their logs, and the report written after every step (write_report).

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
# box ended them, and a FAIL there read as eight failures). Timed out means exit 124 or 137 at its
# LIMIT: a 137 (SIGKILL: the kernel's OOM killer, a crash handler) well before it is a failure.
record_run() {
  local note ok bad timed_out=0
  if { [ "$2" -eq 124 ] || [ "$2" -eq 137 ]; } && [ "$4" -ge $(( $3 - 1 )) ]; then timed_out=1; fi
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
  if [ $timed_out -eq 1 ] && [ "${7:-0}" -gt "$3" ] &&
     ! grep -q '^\[  FAILED  \]' "$5" 2>/dev/null; then
    ok=$(grep -c '^\[       OK \]' "$5" 2>/dev/null)
    record "$1" CUT "the box ended it at its cut limit, ${3}s of its ${7}s (exit $2 after ${4}s; ${ok:-0} test cases passed, none failed); log $5"
    return
  fi
  if [ $timed_out -eq 1 ]; then note="timed out after ${3}s"; else note="exit $2 after ${4}s"; fi
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
