#!/usr/bin/env bash
# Installs what the build needs, builds the examples (Release) and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install_deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DLATENT_BUILD_TESTS=OFF -DLATENT_BUILD_EXAMPLES=ON \
  -DLATENT_BUILD_BENCHMARKS=OFF
cmake --build build/release -j"${LATENT_JOBS:-$(nproc)}" --target tensor_basics
./build/release/examples/tensor_basics
