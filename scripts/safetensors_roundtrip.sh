#!/usr/bin/env bash
# safetensors interoperability between latent and PyTorch.
#
#   scripts/safetensors_roundtrip.sh make-fixtures       # regenerate tests/fixtures/safetensors/
#   scripts/safetensors_roundtrip.sh check-latent FILE...  # load latent-written files in PyTorch
#   scripts/safetensors_roundtrip.sh write-latent DIR    # build tests/safetensors_writer.cpp, write DIR/*.safetensors
#   scripts/safetensors_roundtrip.sh roundtrip           # write-latent $LATENT_ST_BUILD/out, then check-latent
#
#   LATENT_VENV=/path/to/venv scripts/safetensors_roundtrip.sh ...   # reuse a venv with torch + safetensors
#
# make-fixtures saves a seeded nn.Sequential(Linear(3,4), ReLU, Linear(4,2)) state_dict, a
# file of every dtype latent reads (F16, BF16, I64, ... with edge values and metadata) and a
# key-order/layout file with safetensors.torch.save_file, plus expected.json; commit them
# (tests/test_safetensors.cpp reads them). check-latent loads each FILE with safetensors,
# checks that it is laid out as safetensors itself would write it, loads model files into
# the PyTorch model with load_state_dict(strict=True) and compares outputs with latent's,
# and checks exact values (see the top of scripts/safetensors_roundtrip.py). Exit status 0
# when every check passes.
#
# The virtual environment (default: .venv in the repository root, ignored by git) is
# created when missing and gets torch, safetensors and numpy when they are missing.
# write-latent compiles the writer with ${CXX:-c++} (Eigen, OpenMP, zlib from Debian:
# scripts/install_deps.sh), or runs $LATENT_ST_WRITER when it names a built binary.
# LATENT_ST_BUILD is where the
# writer and the roundtrip files go (default: build/safetensors-roundtrip).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '3,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage
mode=$1
shift
build=${LATENT_ST_BUILD:-build/safetensors-roundtrip}

python_env() {
  venv=${LATENT_VENV:-.venv}
  if [ ! -x "$venv/bin/python" ]; then
    echo "latent: creating the virtual environment $venv" >&2
    python3 -m venv "$venv"
  fi
  if ! "$venv/bin/python" -c "import torch, safetensors, numpy" 2>/dev/null; then
    echo "latent: installing torch, safetensors and numpy into $venv" >&2
    "$venv/bin/python" -m pip install --upgrade pip >/dev/null
    "$venv/bin/python" -m pip install torch safetensors numpy
  fi
  PY="$venv/bin/python"
}

write_latent() {
  out=$1
  if [ -n "${LATENT_ST_WRITER:-}" ]; then
    writer=$LATENT_ST_WRITER
  else
    writer=$build/safetensors_writer
    mkdir -p "$(dirname "$writer")"
    if [ ! -x "$writer" ] || [ -n "$(find include tests/safetensors_writer.cpp -newer "$writer" -print -quit)" ]; then
      echo "latent: compiling tests/safetensors_writer.cpp" >&2
      eigen=$(pkg-config --cflags eigen3 2>/dev/null || echo -I/usr/include/eigen3)
      # shellcheck disable=SC2086
      "${CXX:-c++}" -std=c++20 -O1 -fopenmp -Iinclude $eigen tests/safetensors_writer.cpp -lz -o "$writer"
    fi
  fi
  "$writer" "$out"
}

case "$mode" in
  make-fixtures)
    python_env
    exec "$PY" scripts/safetensors_roundtrip.py make-fixtures --out tests/fixtures/safetensors "$@" ;;
  check-latent)
    [ $# -ge 1 ] || usage
    python_env
    exec "$PY" scripts/safetensors_roundtrip.py check-latent "$@" ;;
  write-latent)
    [ $# -eq 1 ] || usage
    write_latent "$1" ;;
  roundtrip)
    python_env
    dir=$build/out
    rm -rf "$dir"
    write_latent "$dir"
    exec "$PY" scripts/safetensors_roundtrip.py check-latent "$dir"/*.safetensors ;;
  *) usage ;;
esac
