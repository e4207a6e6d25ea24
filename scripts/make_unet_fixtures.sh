#!/usr/bin/env bash
# Regenerates the PyTorch reference of latent::diffusion::UNet (RECIPES R10):
# tests/fixtures/diffusion/unet_<case>_{state,io}.safetensors (read by tests/test_unet.cpp).
# The script first checks that its configurable U-Net with default arguments is the seed's
# module (keys, shapes, 20,188,801 / 20,190,083 parameters, output), then saves small
# float64 models with inputs, outputs and gradients (see the top of make_unet_fixtures.py).
#
# Usage: scripts/make_unet_fixtures.sh
#        LATENT_VENV=/path/to/venv scripts/make_unet_fixtures.sh   # reuse a venv
#
# The virtual environment is handled as by scripts/make_fixtures.sh (default .venv in the
# repository root; torch and safetensors installed when missing). The tensors are
# deterministic for a given torch version (recorded in the files' metadata); the header's
# metadata keys come out in a different order per run (safetensors serialises a hash
# map), so regenerate only when the tensors should change, and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
python=$(latent_venv_python torch safetensors)
exec "$python" scripts/make_unet_fixtures.py --out tests/fixtures/diffusion "$@"
