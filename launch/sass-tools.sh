#!/usr/bin/env bash
# Finds cuobjdump and nvdisasm (what launch/sass_check.py reads a build's SASS with) and prints
# their folder: on PATH, in the CUDA toolkit ($CUDA_HOME/bin, /usr/local/cuda/bin), or in
# .sass-tools/bin (gitignored). Where none has both, fetches NVIDIA's PyPI wheels of them
# (nvidia-cuda-cuobjdump, nvidia-cuda-nvdisasm) for the toolkit's major version into .sass-tools/
# (~6 MB; the CI machines' toolkit has no cuobjdump). Exit 1, saying why, where that fails.
#   launch/sass-tools.sh [--find]   --find: look only, never fetch
# Environment: CUDA_HOME (default /usr/local/cuda).
set -euo pipefail
cd "$(dirname "$0")/.."
cuda=${CUDA_HOME:-/usr/local/cuda}
dir=$PWD/.sass-tools
has_both() { [ -n "$1" ] && [ -x "$1/cuobjdump" ] && [ -x "$1/nvdisasm" ]; }
on_path=$(command -v cuobjdump 2>/dev/null || true)
for d in "${on_path%/*}" "$cuda/bin" /usr/local/cuda/bin "$dir/bin"; do
  if has_both "$d"; then echo "$d"; exit 0; fi
done
if [ "${1:-}" = --find ]; then exit 1; fi
nvcc="$cuda/bin/nvcc"
[ -x "$nvcc" ] || nvcc=$(command -v nvcc 2>/dev/null || true)
[ -n "$nvcc" ] || { echo "sass-tools: no nvcc (\$CUDA_HOME/bin, /usr/local/cuda/bin, PATH): no toolkit to match" >&2; exit 1; }
major=$("$nvcc" --version | sed -n 's/.*release \([0-9][0-9]*\)\..*/\1/p')
[ -n "$major" ] || { echo "sass-tools: could not read the CUDA version from $nvcc --version" >&2; exit 1; }
case $(uname -m) in
  x86_64) platform=manylinux2014_x86_64 ;;
  aarch64) platform=manylinux2014_aarch64 ;;
  *) echo "sass-tools: no wheels for $(uname -m)" >&2; exit 1 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "sass-tools: fetching cuobjdump and nvdisasm $major.x from PyPI" >&2
if ! python3 -m pip download --quiet --timeout 30 --retries 2 --no-deps --only-binary=:all: --platform "$platform" -d "$tmp" \
    "nvidia-cuda-cuobjdump==$major.*" "nvidia-cuda-nvdisasm==$major.*" >&2; then
  echo "sass-tools: pip download failed (no network, or no such wheels for CUDA $major)" >&2
  exit 1
fi
mkdir -p "$tmp/x" "$dir/bin"
for w in "$tmp"/*.whl; do python3 -m zipfile -e "$w" "$tmp/x"; done
for tool in cuobjdump nvdisasm; do
  found=$(find "$tmp/x" -type f -name "$tool" -path '*/bin/*' -print -quit)
  [ -n "$found" ] || { echo "sass-tools: the wheels hold no bin/$tool" >&2; exit 1; }
  install -m 755 "$found" "$dir/bin/$tool"
done
"$dir/bin/cuobjdump" --version >/dev/null || { echo "sass-tools: the fetched cuobjdump does not run" >&2; exit 1; }
echo "$dir/bin"
