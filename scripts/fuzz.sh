#!/usr/bin/env bash
# Fuzzes the safetensors reader and the checkpoint loader with libFuzzer
# (tests/fuzz/fuzz_safetensors.cpp).
#
#   scripts/fuzz.sh           # build, then fuzz for 60 s
#   scripts/fuzz.sh 600       # fuzz for 600 s
#   LATENT_FUZZ_BUILD=dir scripts/fuzz.sh   # where the binary, corpus and crashes go (default build/fuzz)
#
# Needs clang++ with libFuzzer (Debian: clang and libclang-rt-dev). The target is built
# with -fsanitize=fuzzer,address,undefined; the seed corpus is tests/fixtures/safetensors/
# (copied into $LATENT_FUZZ_BUILD/corpus, which grows there, never in the repository),
# with tests/fuzz/safetensors.dict as dictionary. Exit status 0 when no crash, leak,
# sanitizer report or uncaught exception was found; otherwise the reproducer is in
# $LATENT_FUZZ_BUILD/crash-* (rerun it: $LATENT_FUZZ_BUILD/fuzz_safetensors FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${LATENT_FUZZ_BUILD:-build/fuzz}
cxx=${FUZZ_CXX:-clang++}
mkdir -p "$build/corpus"

bin=$build/fuzz_safetensors
if [ ! -x "$bin" ] || [ -n "$(find include tests/fuzz -newer "$bin" -print -quit)" ]; then
  echo "latent: building $bin with $cxx" >&2
  eigen=$(pkg-config --cflags eigen3 2>/dev/null || echo -I/usr/include/eigen3)
  # shellcheck disable=SC2086
  "$cxx" -std=c++20 -O1 -g -fno-omit-frame-pointer -Wno-unknown-pragmas \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Iinclude $eigen tests/fuzz/fuzz_safetensors.cpp -lz -o "$bin"
fi
cp tests/fixtures/safetensors/*.safetensors "$build/corpus/"
# A checkpoint-shaped seed (the layout of io::Checkpoint for the target's Linear(2, 3)).
python3 - "$build/corpus/checkpoint_seed.safetensors" <<'PY' || echo "latent: no python3, no checkpoint seed" >&2
import json, struct, sys
meta = {"version": 1, "counters": {"step": 3}, "items": {
    "model": {"kind": "module"}, "opt": {"kind": "optimizer", "scalars": {"param_groups.0.lr": 0.01}},
    "sched": {"kind": "scheduler", "last_epoch": 1}, "rng": {"kind": "generator", "seed": 1, "offset": 4}}}
tensors = {"model/weight": (3, 2), "model/bias": (3,)}
header, data = {"__metadata__": {"latent.checkpoint": json.dumps(meta)}}, b""
for name, shape in tensors.items():
    n = 1
    for d in shape:
        n *= d
    header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [len(data), len(data) + 4 * n]}
    data += struct.pack("<%df" % n, *([0.25] * n))
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + data)
PY
echo "latent: fuzzing for $seconds s (corpus $build/corpus)" >&2
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$bin" "$build/corpus" \
  -dict=tests/fuzz/safetensors.dict -max_total_time="$seconds" -max_len=4096 \
  -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/"
