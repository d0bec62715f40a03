#!/usr/bin/env bash
# launch/device-sim.sh CMD...: runs CMD as on the GPU machines' image, as far as gqa's build can
# tell: Debian's packages of gqa's dependencies are hidden (overlay whiteouts on /usr in a private
# mount namespace: GoogleTest, nlohmann-json, CLI11, Open MPI, OpenBLAS, PCRE2 and ICU headers),
# and NCCL is moved out of the CUDA toolkit into a Python package nvidia.nccl, where PyTorch's image
# keeps it. So `launch/device-sim.sh bash launch/gpu-check.sh` rehearses the device's configure and
# build (with .devdeps from launch/device-deps.sh) at no device time. Needs root, unshare and
# overlayfs; changes nothing outside the namespace (scratch in a temporary folder).
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: launch/device-sim.sh CMD..." >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "device-sim: needs root (mount namespaces, overlayfs)" >&2; exit 2; }

packages=(googletest libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev libopenmpi-dev openmpi-bin
          libopenmpi3 libpcre2-dev libicu-dev libopenblas-dev libopenblas-pthread-dev libopenblas0
          libopenblas0-pthread libblas-dev libblas3 liblapack-dev liblapack3)
scratch=$(mktemp -d /tmp/device-sim.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/upper" "$scratch/work" "$scratch/python/nvidia/nccl/include" "$scratch/python/nvidia/nccl/lib"

cuda="$(readlink -f /usr/local/cuda)"
{
  for p in "${packages[@]}"; do dpkg -L "$p" 2>/dev/null || true; done
  ls -d /usr/bin/mpi* /usr/bin/orte* /usr/bin/ompi* /usr/bin/oshrun /usr/bin/oshcc 2>/dev/null || true
  ls -d "$cuda"/include/nccl* "$cuda"/lib64/libnccl* "$cuda"/targets/*/include/nccl* "$cuda"/targets/*/lib/libnccl* \
    2>/dev/null || true
} | while read -r f; do
  # Whiteouts go where the file physically is: an upper folder on a path through a symlinked
  # folder (CUDA's targets/x86_64-linux/include -> ../../include) would hide all of the link.
  if [ -L "$f" ] || [ -f "$f" ]; then echo "$(readlink -f "$(dirname "$f")")/$(basename "$f")"; fi
done | sort -u | while read -r f; do
  case "$f" in /usr/*) ;; *) continue ;; esac
  mkdir -p "$scratch/upper/$(dirname "${f#/usr/}")"
  mknod "$scratch/upper/${f#/usr/}" c 0 0 2>/dev/null || true
done
# NCCL as PyTorch's image has it: site-packages/nvidia/nccl/{include,lib} (libnccl.so.2, no dev link).
cp -a "$cuda"/include/nccl*.h "$scratch/python/nvidia/nccl/include/" 2>/dev/null || true
cp -a "$cuda"/include/nccl_device "$scratch/python/nvidia/nccl/include/" 2>/dev/null || true
cp -L "$cuda"/lib64/libnccl.so.2 "$scratch/python/nvidia/nccl/lib/" 2>/dev/null || true

echo "device-sim: $(find "$scratch/upper" -type c | wc -l) files hidden; NCCL in $scratch/python/nvidia/nccl" >&2
export PYTHONPATH="$scratch/python${PYTHONPATH:+:$PYTHONPATH}"
unshare -m -- bash -c 'mount -t overlay overlay -o "lowerdir=/usr,upperdir=$0/upper,workdir=$0/work" /usr && exec "$@"' \
  "$scratch" "$@"
