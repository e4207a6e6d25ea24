#!/usr/bin/env bash
# Regenerates the reference values of latent::metrics (FID against pytorch-fid's scipy
# formula and torchmetrics, Inception Score against torchmetrics) in
# tests/fixtures/metrics/metrics.json (read by tests/test_metrics.cpp).
#
# Usage: scripts/make_metric_fixtures.sh
#        LATENT_VENV=/path/to/venv scripts/make_metric_fixtures.sh   # reuse a venv
#
# The virtual environment is handled as by scripts/make_fixtures.sh (default .venv in the
# repository root; torch, numpy, scipy and torchmetrics installed when missing). The
# output is deterministic for given library versions (recorded in the file); commit it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
python=$(latent_venv_python torch numpy scipy torchmetrics)
exec "$python" scripts/make_metric_fixtures.py --out tests/fixtures/metrics/metrics.json "$@"
