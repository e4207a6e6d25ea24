// Full sum reduction, two passes: each block folds a grid-stride slice into one partial
// (warp shuffles, then one value per warp through shared memory), and a single block folds
// the partials. Accumulates in double for float too, as the CPU's sum_kernel does, and
// the grid depends only on n, so results are deterministic run to run.
// Glossary: n elements of a; P partials (one per block of pass 1).
#pragma once
#include "common.cuh"

namespace latent::cuda::kernels {

inline constexpr int kReduceBlock = 256;
inline constexpr int kReduceMaxPartials = 1024;

// ---------------------------------------------------------------- CUDA kernels
// The sum of v over the block, valid in thread 0. blockDim.x is a multiple of 32, <= 1024.
template <typename Acc>
__device__ Acc block_sum(Acc v) {
  __shared__ Acc warp_sums[32];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  int warps = blockDim.x / 32;
  v = threadIdx.x < warps ? warp_sums[threadIdx.x] : Acc(0);
  if (warp == 0)
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// a: (n,) -> partial: (P,) with P = gridDim.x
template <typename T, typename Acc>
__global__ void sum_partial_kernel(const T* a, int64_t n, Acc* partial) {
  Acc acc = 0;
  for (int64_t i = grid_start(); i < n; i += grid_stride()) acc += static_cast<Acc>(a[i]);
  acc = block_sum(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// partial: (P,) -> out: one value (0 when P == 0). One block.
template <typename T, typename Acc>
__global__ void sum_final_kernel(const Acc* partial, int count, T* out) {
  Acc acc = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partial[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) *out = static_cast<T>(acc);
}

// ---------------------------------------------------------------- kernel launchers
// Partials needed for n elements; the caller provides `workspace` of that many doubles.
inline int sum_partials(int64_t n) {
  int64_t per_block = int64_t(kReduceBlock) * 8;  // at least 8 elements per thread before folding
  return static_cast<int>(std::clamp<int64_t>((n + per_block - 1) / per_block, 1, kReduceMaxPartials));
}

// *out = sum(a[0, n)); workspace: sum_partials(n) doubles of device memory.
template <typename T>
void sum(const T* a, int64_t n, T* out, double* workspace, cudaStream_t stream) {
  if (n <= 0) {
    sum_final_kernel<T, double><<<1, 32, 0, stream>>>(workspace, 0, out);
    LATENT_CUDA_CHECK(cudaGetLastError());
    return;
  }
  int partials = sum_partials(n);
  sum_partial_kernel<T, double><<<partials, kReduceBlock, 0, stream>>>(a, n, workspace);
  LATENT_CUDA_CHECK(cudaGetLastError());
  sum_final_kernel<T, double><<<1, kReduceMaxPartials, 0, stream>>>(workspace, partials, out);
  LATENT_CUDA_CHECK(cudaGetLastError());
}

}  // namespace latent::cuda::kernels
