#!/usr/bin/env bash
# Regenerates the PyTorch optimizer and LR-scheduler trajectories in
# tests/fixtures/optim/optim.json (read by tests/test_optim_parity.cpp).
#
# Usage: scripts/make_optim_fixtures.sh
#        LATENT_VENV=/path/to/venv scripts/make_optim_fixtures.sh   # reuse a venv that has torch
#
# The virtual environment is handled exactly as by scripts/make_fixtures.sh (default .venv
# in the repository root; torch and numpy installed when missing). The output is
# deterministic for a given torch version; commit the regenerated file.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
python=$(latent_venv_python torch numpy)
exec "$python" scripts/make_optim_fixtures.py --out tests/fixtures/optim "$@"
