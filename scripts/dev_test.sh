#!/usr/bin/env bash
# Developer loop: compiles the given test files (plus Catch's main) into one executable
# under build/dev and runs it, without building the whole suite. Catch arguments follow --.
#   scripts/dev_test.sh tests/test_conv.cpp -- "[conv]"
# LATENT_DEV_FLAGS overrides the optimisation flags (default -O1 -g0); LATENT_DEV_SANITIZE=1
# adds ASan+UBSan. The full suite is still scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
sources=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do sources+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#sources[@]} -gt 0 ] || { echo "usage: scripts/dev_test.sh tests/test_x.cpp [...] [-- catch args]" >&2; exit 2; }
flags=(${LATENT_DEV_FLAGS:--O1 -g0})
[ "${LATENT_DEV_SANITIZE:-0}" = "1" ] && flags+=(-fsanitize=address,undefined -fno-omit-frame-pointer)
arch=$(gcc -print-multiarch)
blas_dir=/usr/lib/$arch/openblas-openmp
common=(-std=c++20 -fopenmp -Iinclude -Itests -I/usr/include/eigen3 "${flags[@]}"
  -DLATENT_FIXTURES_DIR="\"$PWD/tests/fixtures\"" -DLATENT_SOURCE_DIR="\"$PWD\"")
libs=(-lz -lgif)
if [ -f "$blas_dir/libopenblas.so" ]; then
  common+=(-DLATENT_USE_OPENBLAS=1 -I/usr/include/$arch/openblas-openmp)
  libs+=(-L"$blas_dir" -Wl,-rpath,"$blas_dir" -lopenblas)
fi
mkdir -p build/dev
tag=$(echo "${flags[*]}" | md5sum | cut -c1-8)
main_obj=build/dev/catch_main_$tag.o
[ -f "$main_obj" ] || g++ "${common[@]}" -c tests/catch_main.cpp -o "$main_obj"
name=$(basename "${sources[0]}" .cpp)
exe=build/dev/${name}_$tag
g++ "${common[@]}" "${sources[@]}" "$main_obj" "${libs[@]}" -o "$exe"
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} "$exe" "$@"
