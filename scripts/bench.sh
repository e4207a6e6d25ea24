#!/usr/bin/env bash
# Benchmarks latent beside PyTorch eager and LibTorch on this machine, in one run with the
# same thread settings, and writes a Markdown table to build/bench/results.md.
#
#   scripts/bench.sh [--threads 1,2] [--rounds 3] [--min-time 0.3] [--reps 5]
#                    [--workloads gemm_f32,add_f32,chain_f32,mlp_fwd_bwd,mlp_fwd,mlp_gemms,...]
#                    [--gemm-sizes 256,512,1024,2048]
#
# Without --workloads each program runs all of its workloads (the list is in
# benchmarks/core_bench.cpp), among them the GAN training steps gan_parabola (R2, batch 512)
# and gan_dcgan (R3, batch 64), and the diffusion U-Net steps unet_train (R10, batch 8) and
# unet_sample (batch 16); the LibTorch peer has no layer workloads (conv_d ... adam_1m).
#
# Steps: install the Debian packages the build needs (scripts/install_deps.sh); build
# benchmarks/core_bench (Release, -O3 -march=native) in build/bench; create or reuse the
# Python venv (LATENT_VENV, default .venv in the repository root; created with
# `python3 -m venv` and `pip install torch numpy` when it lacks torch); build the LibTorch
# peer (benchmarks/peers/libtorch) against the LibTorch inside that torch wheel; then run
# the three benchmark programs for --rounds rounds, rotating their order each round, and
# tabulate (benchmarks/tabulate.py). The per-round speedups are computed from figures taken
# in the same round, so a busy machine slows all three alike as far as possible.
#
# Environment: LATENT_VENV (venv path), LATENT_JOBS (build jobs, default: nproc),
# LATENT_TORCH_INDEX_URL (pip --index-url for torch, e.g. https://download.pytorch.org/whl/cpu
# for the CPU-only wheel), LATENT_BENCH_CMAKE_ARGS (extra arguments for configuring latent),
# LATENT_SKIP_DEPS=1 (skip install_deps.sh), LATENT_SKIP_LIBTORCH=1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

threads=1,2 rounds=3 min_time=0.3 reps=5 workloads="" gemm_sizes=256,512,1024,2048
while (($#)); do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --min-time) min_time=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --workloads) workloads=$2; shift 2 ;;
    --gemm-sizes) gemm_sizes=$2; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

jobs=${LATENT_JOBS:-$(nproc)}
out=build/bench
mkdir -p "$out"

# ---- dependencies and latent's benchmarks ----
if [ "${LATENT_SKIP_DEPS:-0}" != "1" ]; then
  ./scripts/install_deps.sh libcli11-dev python3-venv
fi
# LATENT_BENCH_CMAKE_ARGS: extra configure arguments, e.g. -DLATENT_NO_OPENBLAS=ON to time
# latent's Eigen GEMM instead of OpenBLAS.
# shellcheck disable=SC2086
cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=Release -DLATENT_BUILD_BENCHMARKS=ON \
  -DLATENT_BUILD_TESTS=OFF -DLATENT_BUILD_EXAMPLES=OFF -DLATENT_CUDA=OFF ${LATENT_BENCH_CMAKE_ARGS:-} \
  >"$out/configure.log"
cmake --build "$out" -j"$jobs" --target core_bench

# ---- Python venv with torch ----
venv=${LATENT_VENV:-$root/.venv}
if [ ! -x "$venv/bin/python" ]; then
  echo "bench.sh: creating the venv $venv"
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
  echo "bench.sh: installing torch and numpy into $venv"
  "$py" -m pip install --upgrade pip >/dev/null || true
  if [ -n "${LATENT_TORCH_INDEX_URL:-}" ]; then
    "$py" -m pip install torch --index-url "$LATENT_TORCH_INDEX_URL"
    "$py" -m pip install numpy
  else
    "$py" -m pip install torch numpy
  fi
fi

# ---- LibTorch peer (optional: the table shows n/a when it cannot be built) ----
libtorch_bin=""
if [ "${LATENT_SKIP_LIBTORCH:-0}" != "1" ]; then
  torch_prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  if cmake -S benchmarks/peers/libtorch -B "$out/libtorch" -DCMAKE_BUILD_TYPE=Release \
       -DCMAKE_PREFIX_PATH="$torch_prefix" >"$out/libtorch.log" 2>&1 &&
     cmake --build "$out/libtorch" -j"$jobs" >>"$out/libtorch.log" 2>&1; then
    libtorch_bin="$out/libtorch/libtorch_bench"
  else
    echo "bench.sh: the LibTorch peer did not build (see $out/libtorch.log); its column will be n/a" >&2
    tail -n 20 "$out/libtorch.log" >&2
  fi
fi

# ---- run ----
# torch does its GEMMs with the MKL linked into libtorch_cpu; latent with OpenBLAS when it
# was configured with it (else Eigen). The development machines set OPENBLAS_CORETYPE=Haswell
# (AVX2 kernels, half speed on AVX-512 CPUs): it is unset for the runs, so OpenBLAS picks
# the kernels for this CPU, as it would on a user's machine.
args=(--threads "$threads" --min-time "$min_time" --reps "$reps" --gemm-sizes "$gemm_sizes")
[ -n "$workloads" ] && args+=(--workloads "$workloads")
run_env=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
raw="$out/raw.txt"
header="$out/header.md"
{
  echo "Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) logical CPU(s)," \
       "ISA: $(grep -q avx512f /proc/cpuinfo && echo AVX-512 || echo 'AVX2 (no AVX-512)'), $(uname -sr)."
  echo "Compiler: $(c++ --version | head -1) (core_bench and libtorch_bench: Release, -O3 -march=native)."
  if rev=$(git rev-parse --short HEAD 2>/dev/null); then
    echo "latent: commit $rev$(git diff --quiet HEAD -- include || echo ', with uncommitted changes in include/')."
  else
    echo "latent: a source tree without git metadata."
  fi
  "${run_env[@]}" "$out/benchmarks/core_bench" --config --workloads none --threads 1 | sed 's/^# //'
  "${run_env[@]}" "$py" -c 'import torch; print(f"PyTorch {torch.__version__}: CPU capability {torch.backends.cpu.get_cpu_capability()}, GEMM by " + ("MKL" if torch.backends.mkl.is_available() else "its BLAS") + ", OpenMP threads.")'
  echo "Load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPU(s)."
  echo "Command: scripts/bench.sh --threads $threads --rounds $rounds --min-time $min_time --reps $reps${workloads:+ --workloads $workloads} --gemm-sizes $gemm_sizes"
} >"$header"
cat "$header"
# A loaded machine makes every multi-threaded figure meaningless: an OpenMP region waits for
# its slowest thread, and a thread queued behind other processes costs a scheduler period
# (measured here: 12 ms per torch a+b at 2 threads beside 4 compiler processes, 0.1 ms idle).
load1=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load1" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  echo "bench.sh: WARNING: load average $load1 on $(nproc) CPU(s): other processes compete for" \
       "the CPUs; figures (multi-threaded ones above all) will be noisy" >&2
fi
: >"$raw"
progs=(latent torch libtorch)
for ((r = 1; r <= rounds; ++r)); do
  echo "# round $r" | tee -a "$raw"
  for ((i = 0; i < 3; ++i)); do
    lib=${progs[$(((i + r - 1) % 3))]}
    case "$lib" in
      latent) "${run_env[@]}" "$out/benchmarks/core_bench" "${args[@]}" ;;
      torch) "${run_env[@]}" "$py" benchmarks/peers/torch_bench.py "${args[@]}" ;;
      libtorch) if [ -n "$libtorch_bin" ]; then "${run_env[@]}" "$libtorch_bin" "${args[@]}"; fi ;;
    esac | tee -a "$raw"
  done
done
echo "Load average after the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPU(s)." >>"$header"

python3 benchmarks/tabulate.py "$raw" --header "$header" --out "$out/results.md"
echo "bench.sh: wrote $out/results.md (raw BENCH lines: $raw)"
