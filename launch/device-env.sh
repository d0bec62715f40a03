# launch/device-env.sh, sourced by launch/gpu-check.sh (needs $root): prepares the build on a GPU
# machine whose image lacks Debian's packages. Sets GQA_DEVICE_CMAKE_ARGS (extra configure flags)
# and exports PATH/LD_LIBRARY_PATH/OPAL_PREFIX for a carried Open MPI. It uses:
#   .devdeps/ (launch/device-deps.sh; the device run names it in carry), when present;
#   NCCL from the CUDA toolkit, else from $GQA_NCCL_HOME, else from the Python package
#   nvidia-nccl-cu13 (PyTorch's), found through python3.
# Prints one line per decision.
GQA_DEVICE_CMAKE_ARGS=()
gqa_deps="$root/.devdeps"
if [ -d "$gqa_deps" ]; then
  GQA_DEVICE_CMAKE_ARGS+=("-DGQA_DEPS_DIR=$gqa_deps")
  echo "device-env: carried dependencies in $gqa_deps"
  if ! command -v mpicxx >/dev/null 2>&1 && [ -x "$gqa_deps/openmpi/bin/mpicxx" ]; then
    export OPAL_PREFIX="$gqa_deps/openmpi" MPI_HOME="$gqa_deps/openmpi"
    export PATH="$gqa_deps/openmpi/bin:$PATH" LD_LIBRARY_PATH="$gqa_deps/openmpi/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "device-env: MPI from $gqa_deps/openmpi ($(mpirun --version 2>/dev/null | head -n 1))"
  fi
else
  # (the device image of 2026-11-26 has no GoogleTest, CLI11, JSON headers nor MPI: configure fails there)
  echo "device-env: no $gqa_deps: the build needs its packages installed on this machine (make the folder" \
       "with launch/device-deps.sh and name it in the device run's carry)"
fi

gqa_cuda_root="$(dirname "$(dirname "$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)")")"
if [ -f "$gqa_cuda_root/include/nccl.h" ]; then
  echo "device-env: NCCL from the CUDA toolkit ($gqa_cuda_root)"
else
  gqa_nccl="${GQA_NCCL_HOME:-}"
  if [ -z "$gqa_nccl" ]; then
    gqa_nccl="$(python3 -c 'import nvidia.nccl as m; print(list(m.__path__)[0])' 2>/dev/null || true)"
  fi
  gqa_nccl_lib="$(ls "$gqa_nccl"/lib/libnccl.so* 2>/dev/null | head -n 1 || true)"
  if [ -n "$gqa_nccl" ] && [ -f "$gqa_nccl/include/nccl.h" ] && [ -n "$gqa_nccl_lib" ]; then
    GQA_DEVICE_CMAKE_ARGS+=("-DNCCL_INCLUDE_DIR=$gqa_nccl/include" "-DNCCL_LIBRARY=$gqa_nccl_lib")
    export LD_LIBRARY_PATH="$gqa_nccl/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "device-env: NCCL from $gqa_nccl ($gqa_nccl_lib)"
  else
    echo "device-env: no NCCL found (toolkit, GQA_NCCL_HOME, python3 nvidia.nccl): --comm nccl will be refused"
  fi
fi
