#!/usr/bin/env bash
# Regenerates the PyTorch parity fixtures in tests/fixtures/ (read by tests/test_parity.cpp).
#
# Usage: scripts/make_fixtures.sh
#        LATENT_VENV=/path/to/venv scripts/make_fixtures.sh   # reuse a venv that has torch
#
# Creates a Python virtual environment (default: .venv in the repository root, ignored by
# git) when it does not exist, installs torch and numpy into it when they are missing,
# then runs scripts/make_fixtures.py. The output is deterministic for a given torch
# version; commit the regenerated tests/fixtures/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${LATENT_VENV:-.venv}

if [ ! -x "$venv/bin/python" ]; then
  echo "latent: creating the virtual environment $venv"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import torch, numpy" 2>/dev/null; then
  echo "latent: installing torch and numpy into $venv"
  "$venv/bin/python" -m pip install --upgrade pip >/dev/null
  "$venv/bin/python" -m pip install torch numpy
fi
exec "$venv/bin/python" scripts/make_fixtures.py --out tests/fixtures "$@"
