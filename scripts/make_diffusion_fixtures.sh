#!/usr/bin/env bash
# Regenerates the diffusers / course reference values of latent::diffusion's schedules and
# schedulers in tests/fixtures/diffusion/schedulers.json (read by tests/test_diffusion.cpp).
#
# Usage: scripts/make_diffusion_fixtures.sh
#        LATENT_VENV=/path/to/venv scripts/make_diffusion_fixtures.sh   # reuse a venv
#
# The virtual environment is handled as by scripts/make_fixtures.sh (default .venv in the
# repository root; torch, numpy and diffusers installed when missing). The output is
# deterministic for given library versions (recorded in the file); commit it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
python=$(latent_venv_python torch numpy diffusers)
mkdir -p tests/fixtures/diffusion
exec "$python" scripts/make_diffusion_fixtures.py --out tests/fixtures/diffusion/schedulers.json "$@"
