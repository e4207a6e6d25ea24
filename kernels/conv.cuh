// im2col and col2im for 2-D convolutions (ops/conv.hpp builds conv2d and conv_transpose2d
// from them and cuBLAS GEMMs). im2col runs a thread per column element; col2im a thread
// per image pixel that gathers the column entries reading it, taps in (i, j) order as the
// CPU adds them, so no atomics are needed and the sums are deterministic.
// Glossary: (n, c, y, x) an image element; (n, r, l) a column element, r = (c*kh + i)*kw + j
// the tap row and l = by*ow + bx the block; see ConvGeometry in backend/cuda/backend.hpp.
#pragma once
#include "common.cuh"

namespace latent::cuda::kernels {

template <typename T>
__global__ void im2col_kernel(const T* x, T* cols, ConvGeometry g, int64_t total) {
  for (int64_t w = grid_start(); w < total; w += grid_stride()) {
    int64_t col;
    const int64_t src = conv_column_source(g, w, &col);
    cols[col] = src >= 0 ? x[src] : T(0);
  }
}

template <typename T>
__global__ void col2im_kernel(const T* cols, T* x, ConvGeometry g, int64_t total) {
  for (int64_t w = grid_start(); w < total; w += grid_stride()) {
    const int64_t xx = w % g.width, y = (w / g.width) % g.height, nc = w / (g.width * g.height);
    const int64_t c = nc % g.channels, n = nc / g.channels;
    T sum = 0;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t by_scaled = y + g.ph - i * g.dh;  // by * sh when block row by reads y with tap i
      if (by_scaled < 0 || by_scaled % g.sh != 0 || by_scaled / g.sh >= g.oh) continue;
      const int64_t by = by_scaled / g.sh;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t bx_scaled = xx + g.pw - j * g.dw;
        if (bx_scaled < 0 || bx_scaled % g.sw != 0 || bx_scaled / g.sw >= g.ow) continue;
        const int64_t r = (c * g.kh + i) * g.kw + j;
        sum += cols[n * g.sample_stride + r * g.row_stride + by * g.ow + bx_scaled / g.sw];
      }
    }
    x[w] = sum;
  }
}

template <typename T>
void im2col(const T* x, T* cols, const ConvGeometry& g, cudaStream_t stream) {
  const int64_t total = g.batch * g.channels * g.kh * g.kw * g.oh * g.ow;
  if (total <= 0) return;
  im2col_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(x, cols, g, total);
  LATENT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void col2im(const T* cols, T* x, const ConvGeometry& g, cudaStream_t stream) {
  const int64_t total = g.batch * g.channels * g.height * g.width;
  if (total <= 0) return;
  col2im_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(cols, x, g, total);
  LATENT_CUDA_CHECK(cudaGetLastError());
}

}  // namespace latent::cuda::kernels
