#!/usr/bin/env bash
# Regenerates tests/fixtures/metrics/classifier_{state,io}.safetensors, the PyTorch
# reference of metrics::ImageClassifier (read by tests/test_metrics.cpp).
#
# Usage: scripts/make_classifier_fixture.sh
#        LATENT_VENV=/path/to/venv scripts/make_classifier_fixture.sh   # reuse a venv
#
# The virtual environment is handled as by scripts/make_fixtures.sh (default .venv in the
# repository root; torch and safetensors installed when missing). Commit the output.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
python=$(latent_venv_python torch safetensors)
exec "$python" scripts/make_classifier_fixture.py --out tests/fixtures/metrics "$@"
