// Max pooling over the (H, W) planes of contiguous images, with ATen's conventions as the
// CPU kernel has them (nn/functional/pooling.hpp): each window in row-major order, padding
// never wins, ties keep the first maximum, a NaN always wins (the last NaN); the index is
// flat in its plane, starting at the window's first in-bounds position. The backward
// scatters gradients to those indices (atomically: windows overlap), and the scatter's
// own backward gathers at them. Indices outside the plane read 0 and receive nothing.
// Glossary: p plane, (oh, ow) an output cell; HW and oHW the sizes of a plane.
#pragma once
#include <cmath>

#include "common.cuh"

namespace latent::cuda::kernels {

template <typename T>
__global__ void max_pool_kernel(const T* x, T* out, int64_t* index, int64_t planes, int64_t H, int64_t W,
                                PoolWindow g) {
  const int64_t total = planes * g.oh * g.ow;
  for (int64_t w = grid_start(); w < total; w += grid_stride()) {
    const int64_t ow = w % g.ow, oh = (w / g.ow) % g.oh, p = w / (g.ow * g.oh);
    int64_t at;
    out[w] = max_pool_cell(x + p * H * W, H, W, g, oh, ow, &at);
    if (index) index[w] = at;
  }
}

// out[p, k] = x[p, index[p, k]] (0 outside the plane)
template <typename T>
__global__ void max_pool_gather_kernel(const T* x, const int64_t* index, T* out, int64_t planes, int64_t HW,
                                       int64_t oHW) {
  for (int64_t w = grid_start(); w < planes * oHW; w += grid_stride()) {
    const int64_t i = index[w];
    out[w] = i >= 0 && i < HW ? x[(w / oHW) * HW + i] : T(0);
  }
}

// out[p, index[p, k]] += g[p, k]; out is zeroed first by the launcher
template <typename T>
__global__ void max_pool_scatter_kernel(const T* g, const int64_t* index, T* out, int64_t planes, int64_t HW,
                                        int64_t oHW) {
  for (int64_t w = grid_start(); w < planes * oHW; w += grid_stride()) {
    const int64_t i = index[w];
    if (i >= 0 && i < HW) atomicAdd(out + (w / oHW) * HW + i, g[w]);
  }
}

template <typename T>
void max_pool2d(const T* x, T* out, int64_t* index, int64_t planes, int64_t H, int64_t W, const PoolWindow& g,
                cudaStream_t stream) {
  const int64_t total = planes * g.oh * g.ow;
  if (total <= 0) return;
  max_pool_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(x, out, index, planes, H, W, g);
  LATENT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void max_pool_gather(const T* x, const int64_t* index, T* out, int64_t planes, int64_t HW, int64_t oHW,
                     cudaStream_t stream) {
  if (planes * oHW <= 0) return;
  max_pool_gather_kernel<T><<<grid_for(planes * oHW), kBlock, 0, stream>>>(x, index, out, planes, HW, oHW);
  LATENT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void max_pool_scatter(const T* g, const int64_t* index, T* out, int64_t planes, int64_t HW, int64_t oHW,
                      cudaStream_t stream) {
  if (planes * HW <= 0) return;
  LATENT_CUDA_CHECK(cudaMemsetAsync(out, 0, sizeof(T) * planes * HW, stream));
  if (oHW <= 0) return;
  max_pool_scatter_kernel<T><<<grid_for(planes * oHW), kBlock, 0, stream>>>(g, index, out, planes, HW, oHW);
  LATENT_CUDA_CHECK(cudaGetLastError());
}

}  // namespace latent::cuda::kernels
