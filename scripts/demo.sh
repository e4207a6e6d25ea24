#!/usr/bin/env bash
# Installs what the build needs, builds the examples (Release) and runs the demo: the
# parabola GAN (RECIPES R2), which writes its samples, plots, losses and a checkpoint to
# out/parabola_gan/. Arguments are passed to it (e.g. --batches 2000, --loss wgan-gp).
# The samples come from an EMA of G's weights (--ema 0.999): R2's GAN oscillates around
# the parabola, and a snapshot of the raw weights lands on it for some seeds only.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install_deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DLATENT_BUILD_TESTS=OFF -DLATENT_BUILD_EXAMPLES=ON \
  -DLATENT_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build/release -j"${LATENT_JOBS:-$(nproc)}" --target parabola_gan
./build/release/examples/parabola_gan --ema 0.999 --out out/parabola_gan "$@"
