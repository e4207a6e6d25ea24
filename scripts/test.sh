#!/usr/bin/env bash
# Installs what the build needs, builds the whole test suite and the CUDA sources (when
# nvcc is present) once, with AddressSanitizer + UBSan, and the examples (plain, for their
# smoke tests; LATENT_SANITIZE_EXAMPLES=ON sanitizes them too at ~3.5x their compile
# time), and runs it all with CTest. That single sanitized run is what CI relies on:
# building the header-only templates twice (plain and sanitized) would double CI time.
#   LATENT_TEST_MODE=release   plain Release build instead (faster, no sanitizers)
#   LATENT_JOBS=N              build/test parallelism (default: nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
# The FashionMNIST files let the data tests read the real dataset (they warn and skip without it).
./scripts/install_deps.sh dataset-fashion-mnist
jobs=${LATENT_JOBS:-$(nproc)}
mode=${LATENT_TEST_MODE:-sanitize}

case "$mode" in
  sanitize)
    dir=build/test-sanitize
    # -O1: a test file compiles in about half the time it takes at -O2 under ASan (test_conv:
    # 158 s against 310 s of CPU), and compiling is most of CI's time on 2 cores; -g1 (line
    # tables) is enough for sanitizer reports.
    config=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" -DLATENT_SANITIZE=ON)
    export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ;;
  release)
    dir=build/release
    config=(-DCMAKE_BUILD_TYPE=Release) ;;
  *) echo "LATENT_TEST_MODE must be sanitize or release, got '$mode'" >&2; exit 2 ;;
esac

start=$(date +%s)
cmake -S . -B "$dir" "${config[@]}" -DLATENT_BUILD_TESTS=ON -DLATENT_BUILD_EXAMPLES=ON -DLATENT_BUILD_BENCHMARKS=OFF
cmake --build "$dir" -j"$jobs"
built=$(date +%s)
ctest --test-dir "$dir" --output-on-failure -j"$jobs"
echo "test.sh ($mode): build $((built - start)) s, tests $(($(date +%s) - built)) s"
