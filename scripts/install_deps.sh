#!/usr/bin/env bash
# Installs the Debian packages latent's build needs, skipping those already present.
# Usage: scripts/install_deps.sh [extra packages...]   (as root, or with sudo available)
set -euo pipefail
packages=(build-essential cmake libeigen3-dev libopenblas-openmp-dev catch2 zlib1g-dev libstb-dev libgif-dev nlohmann-json3-dev libcli11-dev "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "latent: installing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "latent: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
