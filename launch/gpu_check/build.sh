# launch/gpu_check/build.sh: part of launch/gpu-check.sh, which sources it (in its shell, with its
# variables and functions); not run on its own.
# Steps 1-2b: the GPU, the machine's tools, configure and build, and the SASS checks.

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
# Each test's limit under ctest in this build (gpu-check runs only the GPU tests there), in every
# mode (a test's TIMEOUT property wins over `ctest --timeout`): a hung test is then killed and named
# by ctest, where the step's own limit would end ctest without a word about which test hung (run
# 13's longest took 62 s, 4 at a time).
test_timeout=180
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
# CPU work only (cuobjdump; 86 s of run 15's 540 s box): the checking modes run it beside their GPU
# tests and record it after them, before any benchmark (sass_check_record: tests.sh); the others
# wait for it here, so that nothing runs beside their benchmarks.
sass_pid=""
sass_log="$logs/sass-check.log"
# sass_check_record: waits for the SASS check (if it runs) and records its row; then nothing.
sass_check_record() {
  [ -n "$sass_pid" ] || return 0
  wait "$sass_pid"
  sass_pid=""
  local rc
  rc=$(cat "$sass_log.rc" 2>/dev/null || echo 1)
  case $rc in
    0) record "SASS checks" PASS "$(tail -n 1 "$sass_log")" ;;
    2) record "SASS checks" SKIP "$(tail -n 1 "$sass_log")" ;;
    *) record "SASS checks" WARN "$(tail -n 1 "$sass_log"); log $sass_log"
       grep '| NO |' "$sass_log" | head -n 20 | sed 's/^/   | /' ;;
  esac
}
if [ $built -eq 1 ]; then
  ( timeout 120 python3 launch/sass_check.py "$build" >"$sass_log" 2>&1
    echo $? >"$sass_log.rc" ) &
  sass_pid=$!
  [ $checking -eq 1 ] || sass_check_record
fi
