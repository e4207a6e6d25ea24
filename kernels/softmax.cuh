// softmax and log_softmax over R of a contiguous (outer, R, inner) array, with the CPU's
// conventions (ops/softmax.hpp): the row maximum is subtracted first, and a row whose
// maximum is -inf or +inf is shifted by 0 instead (NaN stays NaN), so an all -inf row gives
// NaN as in PyTorch. Contiguous long rows (attention's scores) get a block per row; other
// layouts a thread per (o, i) column.
// Glossary: (o, r, i) an element of the layout; m the row maximum; s = sum exp(x - m).
#pragma once
#include <cmath>

#include "reduce.cuh"

namespace latent::cuda::kernels {

template <typename T>
__device__ inline T softmax_shift(T m) {
  return isfinite(m) ? m : (isnan(m) ? m : T(0));
}

// The maximum of v over the block, valid in every thread. blockDim.x == kReduceBlock.
template <typename T>
__device__ T block_max_all(T v, T* scratch) {
  scratch[threadIdx.x] = v;
  __syncthreads();
  for (int width = blockDim.x / 2; width > 0; width /= 2) {
    if (threadIdx.x < width) scratch[threadIdx.x] = fmax(scratch[threadIdx.x], scratch[threadIdx.x + width]);
    __syncthreads();
  }
  T m = scratch[0];
  __syncthreads();
  return m;
}
// The sum of v over the block, valid in every thread.
template <typename T>
__device__ T block_sum_all(T v, T* scratch) {
  scratch[threadIdx.x] = v;
  __syncthreads();
  for (int width = blockDim.x / 2; width > 0; width /= 2) {
    if (threadIdx.x < width) scratch[threadIdx.x] += scratch[threadIdx.x + width];
    __syncthreads();
  }
  T s = scratch[0];
  __syncthreads();
  return s;
}

template <typename T>
__global__ void softmax_rows_kernel(const T* x, int64_t outer, int64_t R, T* out, bool log_space) {
  __shared__ T scratch[kReduceBlock];
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* row = x + o * R;
    T* dst = out + o * R;
    T m = -INFINITY;
    for (int64_t r = threadIdx.x; r < R; r += blockDim.x) m = fmax(m, row[r]);
    m = softmax_shift(block_max_all(m, scratch));
    T s = 0;
    for (int64_t r = threadIdx.x; r < R; r += blockDim.x) s += exp(row[r] - m);
    s = block_sum_all(s, scratch);
    if (log_space) {
      const T lse = m + log(s);
      for (int64_t r = threadIdx.x; r < R; r += blockDim.x) dst[r] = row[r] - lse;
    } else {
      const T inv = T(1) / s;
      for (int64_t r = threadIdx.x; r < R; r += blockDim.x) dst[r] = exp(row[r] - m) * inv;
    }
  }
}

template <typename T>
__global__ void softmax_columns_kernel(const T* x, int64_t outer, int64_t R, int64_t inner, T* out, bool log_space) {
  const int64_t n = outer * inner;
  for (int64_t w = grid_start(); w < n; w += grid_stride()) {
    const int64_t o = w / inner, i = w % inner;
    const T* src = x + o * R * inner + i;
    T* dst = out + o * R * inner + i;
    T m = -INFINITY;
    for (int64_t r = 0; r < R; ++r) m = fmax(m, src[r * inner]);
    m = softmax_shift(m);
    T s = 0;
    for (int64_t r = 0; r < R; ++r) s += (dst[r * inner] = exp(src[r * inner] - m));
    if (log_space) {
      const T lse = m + log(s);
      for (int64_t r = 0; r < R; ++r) dst[r * inner] = src[r * inner] - lse;
    } else {
      const T inv = T(1) / s;
      for (int64_t r = 0; r < R; ++r) dst[r * inner] *= inv;
    }
  }
}

template <typename T>
void softmax(const T* x, int64_t outer, int64_t R, int64_t inner, T* out, bool log_space, cudaStream_t stream) {
  if (outer <= 0 || R <= 0 || inner <= 0) return;
  if (inner == 1 && R >= kRowPerBlockMin) {
    unsigned grid = static_cast<unsigned>(std::min<int64_t>(outer, kMaxGrid));
    softmax_rows_kernel<T><<<grid, kReduceBlock, 0, stream>>>(x, outer, R, out, log_space);
  } else {
    softmax_columns_kernel<T><<<grid_for(outer * inner), kBlock, 0, stream>>>(x, outer, R, inner, out, log_space);
  }
  LATENT_CUDA_CHECK(cudaGetLastError());
}

}  // namespace latent::cuda::kernels
