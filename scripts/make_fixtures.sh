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
source scripts/lib/venv.sh
python=$(latent_venv_python torch numpy)
exec "$python" scripts/make_fixtures.py --out tests/fixtures "$@"
