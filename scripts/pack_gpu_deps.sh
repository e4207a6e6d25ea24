#!/usr/bin/env bash
# Copies the headers and libraries latent's CUDA tests and benchmarks need into .gpu_deps/
# (ignored by git through .git/info/exclude), for a GPU machine that can fetch nothing: the
# device tool carries it (`carry: [".gpu_deps"]`) and scripts/gpu_check.sh builds against it.
# Run on a Debian machine with the packages scripts/test.sh and scripts/bench.sh install
# (Eigen, Catch2 2, CLI11, nlohmann-json, stb, zlib, giflib). About 13 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.gpu_deps
arch=$(gcc -print-multiarch)
grep -qx '/.gpu_deps/' .git/info/exclude 2>/dev/null || echo '/.gpu_deps/' >>.git/info/exclude
rm -rf "$dest"
mkdir -p "$dest/include/stb" "$dest/lib"
cp -r /usr/include/eigen3 /usr/include/catch2 /usr/include/CLI /usr/include/nlohmann "$dest/include/"
cp /usr/include/stb/stb_image_write.h "$dest/include/stb/"
cp /usr/include/zlib.h /usr/include/zconf.h /usr/include/gif_lib.h "$dest/include/"
# The shared objects themselves (cp -L follows the links), under their link-time names and
# their sonames (what a program built against them asks the loader for).
for lib in libz.so libgif.so; do
  cp -L "/usr/lib/$arch/$lib" "$dest/lib/$lib"
  soname=$(objdump -p "$dest/lib/$lib" | awk '/SONAME/ {print $2}')
  [ -z "$soname" ] || [ "$soname" = "$lib" ] || cp "$dest/lib/$lib" "$dest/lib/$soname"
done
du -sh "$dest"
