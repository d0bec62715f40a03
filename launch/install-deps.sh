#!/usr/bin/env bash
# Installs what gqa needs to build and test on Debian 12 (bookworm), with apt-get.
# The CUDA toolkit is not installed here: when /usr/local/cuda/bin/nvcc exists the CUDA backend
# is built too. Run as root (or with sudo available).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
packages=(
  build-essential cmake pkg-config
  libopenmpi-dev openmpi-bin
  libopenblas-dev
  libgtest-dev libgmock-dev
  nlohmann-json3-dev libcli11-dev
  libpcre2-dev libicu-dev
  python3  # (launch/demo.sh and the command-line tests read JSON with it)
)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
