#!/usr/bin/env bash
# Installs what the build needs, builds the tests (Release) and runs them with CTest, then
# rebuilds them with AddressSanitizer + UBSan and runs them again.
# Set LATENT_SKIP_SANITIZERS=1 to skip the sanitizer pass (CI always runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install_deps.sh
jobs=${LATENT_JOBS:-$(nproc)}

cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DLATENT_BUILD_TESTS=ON \
  -DLATENT_BUILD_EXAMPLES=ON -DLATENT_BUILD_BENCHMARKS=OFF
cmake --build build/release -j"$jobs"
ctest --test-dir build/release --output-on-failure -j"$jobs"

if [ "${LATENT_SKIP_SANITIZERS:-0}" != "1" ]; then
  cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLATENT_SANITIZE=ON -DLATENT_CUDA=OFF \
    -DLATENT_BUILD_TESTS=ON -DLATENT_BUILD_EXAMPLES=OFF -DLATENT_BUILD_BENCHMARKS=OFF
  cmake --build build/asan -j"$jobs" --target latent_tests
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build/asan --output-on-failure -j"$jobs"
fi
