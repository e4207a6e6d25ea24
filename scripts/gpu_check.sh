#!/usr/bin/env bash
# The CUDA proof run (issue 6) on a machine with an NVIDIA GPU, in one command:
#
#   scripts/gpu_check.sh [--no-memcheck] [--no-bench] [--rounds 2]
#
# 1. Builds kernels/latent_cuda.cu with nvcc (-arch=sm_$CUDA_ARCH, default 90a: the H100),
#    and tests/test_cuda.cpp and benchmarks/core_bench.cpp with the host compiler, directly
#    (no CMake, so a bare GPU image with nvcc and g++ suffices), against .gpu_deps/ when
#    present (scripts/pack_gpu_deps.sh makes it on a Debian machine), else the system's.
# 2. Runs the CUDA tests (every op, layer, loss and optimizer against the CPU) ->
#    $out/cuda_tests.log, then again under compute-sanitizer memcheck -> $out/memcheck.log.
# 3. Runs the GPU benchmarks beside PyTorch (python3 with CUDA): core_bench --device cuda
#    and benchmarks/peers/torch_gpu_bench.py on the same workloads and sizes (GEMM 4096,
#    DCGAN step at batch 64 and 512, U-Net training step at 64, sampling step at 256),
#    alternating order for --rounds rounds -> $out/gpu_bench_raw.txt and $out/gpu_results.md.
#
# $out is $OUT when set (the device tool's folder that comes back), else build/gpu.
# Environment: CUDA_ARCH, LATENT_PYTHON (default python3), LATENT_JOBS (parallel compiles).
set -uo pipefail
cd "$(dirname "$0")/.."
memcheck=1 bench=1 rounds=2
while (($#)); do
  case "$1" in
    --no-memcheck) memcheck=0; shift ;;
    --no-bench) bench=0; shift ;;
    --rounds) rounds=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
out=${OUT:-build/gpu}
build=build/gpu
mkdir -p "$out" "$build"
arch=${CUDA_ARCH:-90a}
python=${LATENT_PYTHON:-python3}
cuda_home=${CUDA_HOME:-$(dirname "$(dirname "$(command -v nvcc)")")}
deps=.gpu_deps
inc=(-Iinclude -Itests -Ibenchmarks)
if [ -d "$deps" ]; then
  inc+=(-I"$deps/include" -I"$deps/include/eigen3")
  export LIBRARY_PATH="$PWD/$deps/lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
  export LD_LIBRARY_PATH="$PWD/$deps/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  inc+=(-I/usr/include/eigen3)
fi
defs=(-DLATENT_FIXTURES_DIR="\"$PWD/tests/fixtures\"" -DLATENT_SOURCE_DIR="\"$PWD\"" -DLATENT_WITH_CUDA=1)
cxx=(g++ -std=c++20 -O2 -fopenmp "${inc[@]}" -I"$cuda_home/include" "${defs[@]}")
libs=(-L"$cuda_home/lib64" -lcudart -lcublas -lz -lgif -ldl -lpthread)

{
  echo "# $(date -u) $(git rev-parse --short HEAD 2>/dev/null)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  nvcc --version | tail -2
  "${cxx[0]}" --version | head -1
} | tee "$out/build.log"

echo "== build (sm_$arch)" | tee -a "$out/build.log"
start=$SECONDS
nvcc -std=c++20 -O2 -arch=sm_$arch "${inc[@]}" -c kernels/latent_cuda.cu -o "$build/latent_cuda.o" \
  >>"$out/build.log" 2>&1 &
nvcc_pid=$!
"${cxx[@]}" -c tests/test_cuda.cpp -o "$build/test_cuda.o" >>"$out/build.log" 2>&1 &
test_pid=$!
status=0
if ((bench)); then
  "${cxx[@]}" -march=native -c benchmarks/core_bench.cpp -o "$build/core_bench.o" >>"$out/build.log" 2>&1 &
  wait $! || status=1
fi
wait $nvcc_pid || status=1
wait $test_pid || status=1
if ((status)); then
  echo "build failed; see $out/build.log" >&2
  tail -40 "$out/build.log"
  exit 1
fi
"${cxx[@]}" "$build/test_cuda.o" "$build/latent_cuda.o" "${libs[@]}" -o "$build/latent_cuda_tests" >>"$out/build.log" 2>&1 &&
  { ((!bench)) || "${cxx[@]}" "$build/core_bench.o" "$build/latent_cuda.o" "${libs[@]}" -o "$build/core_bench" \
      >>"$out/build.log" 2>&1; } || { tail -40 "$out/build.log"; exit 1; }
echo "built in $((SECONDS - start)) s" | tee -a "$out/build.log"

echo "== CUDA tests" | tee "$out/cuda_tests.log"
OMP_NUM_THREADS=4 "$build/latent_cuda_tests" --durations yes 2>&1 | tee -a "$out/cuda_tests.log"
tests_rc=${PIPESTATUS[0]}
echo "latent_cuda_tests exit status $tests_rc" | tee -a "$out/cuda_tests.log"

if ((memcheck)) && command -v compute-sanitizer >/dev/null; then
  echo "== compute-sanitizer memcheck" | tee "$out/memcheck.log"
  # The 2^31-element test allocates 8.6 GB three times; memcheck's shadow memory would not fit.
  OMP_NUM_THREADS=4 timeout 1200 compute-sanitizer --tool memcheck --leak-check no --error-exitcode 3 \
    "$build/latent_cuda_tests" '~[large]' 2>&1 | tail -60 | tee -a "$out/memcheck.log"
  echo "compute-sanitizer exit status ${PIPESTATUS[0]}" | tee -a "$out/memcheck.log"
fi

if ((bench)); then
  raw="$out/gpu_bench_raw.txt"
  : >"$raw"
  sizes=(--gemm-sizes 4096 --dcgan-batches 64,512 --unet-train-batch 64 --unet-sample-batch 256 --min-time 1 --reps 5)
  for ((r = 1; r <= rounds; r++)); do
    echo "# round $r" | tee -a "$raw"
    latent_run() { OMP_NUM_THREADS=4 "$build/core_bench" --device cuda --threads 1 "${sizes[@]}" | tee -a "$raw"; }
    torch_run() { PYTHONUNBUFFERED=1 "$python" benchmarks/peers/torch_gpu_bench.py "${sizes[@]}" | tee -a "$raw"; }
    if ((r % 2)); then latent_run; torch_run; else torch_run; latent_run; fi
  done
  "$python" benchmarks/tabulate.py "$raw" --out "$out/gpu_results.md"
fi
exit "$tests_rc"
