// Fused optimizer steps: one thread per parameter element applies the rule the CPU loops
// apply (optim/update_rules.hpp), so a step reads and writes each buffer once.
#pragma once
#include <latent/optim/update_rules.hpp>

#include "common.cuh"

namespace latent::cuda::kernels {

template <typename T>
__global__ void adam_kernel(T* w, const T* g, T* m, T* v, T* vmax, int64_t n, optim::AdamRule<T> rule) {
  for (int64_t i = grid_start(); i < n; i += grid_stride()) rule(i, w, g, m, v, vmax);
}
template <typename T>
__global__ void sgd_kernel(T* w, const T* g, T* buf, int64_t n, optim::SgdRule<T> rule) {
  for (int64_t i = grid_start(); i < n; i += grid_stride()) rule(i, w, g, buf);
}
template <typename T>
__global__ void rmsprop_kernel(T* w, const T* g, T* s, T* a, T* buf, int64_t n, optim::RmspropRule<T> rule) {
  for (int64_t i = grid_start(); i < n; i += grid_stride()) rule(i, w, g, s, a, buf);
}

template <typename T>
void adam_step(T* w, const T* g, T* m, T* v, T* vmax, int64_t n, const optim::AdamRule<T>& rule,
               cudaStream_t stream) {
  if (n <= 0) return;
  adam_kernel<T><<<grid_for(n), kBlock, 0, stream>>>(w, g, m, v, vmax, n, rule);
  LATENT_CUDA_CHECK(cudaGetLastError());
}
template <typename T>
void sgd_step(T* w, const T* g, T* buf, int64_t n, const optim::SgdRule<T>& rule, cudaStream_t stream) {
  if (n <= 0) return;
  sgd_kernel<T><<<grid_for(n), kBlock, 0, stream>>>(w, g, buf, n, rule);
  LATENT_CUDA_CHECK(cudaGetLastError());
}
template <typename T>
void rmsprop_step(T* w, const T* g, T* s, T* a, T* buf, int64_t n, const optim::RmspropRule<T>& rule,
                  cudaStream_t stream) {
  if (n <= 0) return;
  rmsprop_kernel<T><<<grid_for(n), kBlock, 0, stream>>>(w, g, s, a, buf, n, rule);
  LATENT_CUDA_CHECK(cudaGetLastError());
}

}  // namespace latent::cuda::kernels
