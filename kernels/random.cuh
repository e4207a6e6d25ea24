// Philox4x32-10 random numbers on the device, with the element mapping of core/random.hpp
// (block j of a draw -> counter first_block + j; float: 4 elements per block, double: 2):
// rand and randn give the CPU's numbers bit for bit (Box-Muller uses core/random.hpp's
// portable log and sincos, not the libm of either side). One thread per Philox block.
// Glossary: n elements; E elements per block (4 float, 2 double); w the block's 4 words.
#pragma once
#include <latent/core/random.hpp>

#include "common.cuh"

namespace latent::cuda::kernels {

// ---------------------------------------------------------------- CUDA kernels
// out: (n,) float; thread b fills elements [4b, 4b + 4) from block first_block + b.
template <RandomDistribution Dist>
__global__ void philox_f32_kernel(float* out, int64_t n, uint64_t seed, uint64_t first_block, int64_t blocks) {
  for (int64_t b = grid_start(); b < blocks; b += grid_stride()) {
    uint32_t w[4];
    philox::block(first_block + static_cast<uint64_t>(b), seed, w);
    float z[4];
    if constexpr (Dist == RandomDistribution::Uniform) {
      for (int j = 0; j < 4; ++j) z[j] = philox::uniform_float(w[j]);
    } else {
      philox::box_muller_float(philox::uniform_float(w[0]), philox::uniform_float(w[1]), z[0], z[1]);
      philox::box_muller_float(philox::uniform_float(w[2]), philox::uniform_float(w[3]), z[2], z[3]);
    }
    int64_t i0 = b * 4;
    for (int j = 0; j < 4 && i0 + j < n; ++j) out[i0 + j] = z[j];
  }
}

// out: (n,) double; thread b fills elements [2b, 2b + 2) from block first_block + b.
template <RandomDistribution Dist>
__global__ void philox_f64_kernel(double* out, int64_t n, uint64_t seed, uint64_t first_block, int64_t blocks) {
  for (int64_t b = grid_start(); b < blocks; b += grid_stride()) {
    uint32_t w[4];
    philox::block(first_block + static_cast<uint64_t>(b), seed, w);
    double z[2];
    if constexpr (Dist == RandomDistribution::Uniform) {
      for (int j = 0; j < 2; ++j) z[j] = philox::uniform_double(w[2 * j], w[2 * j + 1]);
    } else {
      philox::box_muller_double(philox::uniform_double(w[0], w[1]), philox::uniform_double(w[2], w[3]), z[0], z[1]);
    }
    int64_t i0 = b * 2;
    for (int j = 0; j < 2 && i0 + j < n; ++j) out[i0 + j] = z[j];
  }
}

// ---------------------------------------------------------------- kernel launchers
inline void philox(RandomDistribution dist, float* out, int64_t n, uint64_t seed, uint64_t first_block,
                   cudaStream_t stream) {
  if (n <= 0) return;
  int64_t blocks = (n + 3) / 4;
  if (dist == RandomDistribution::Uniform)
    philox_f32_kernel<RandomDistribution::Uniform><<<grid_for(blocks), kBlock, 0, stream>>>(out, n, seed,
                                                                                            first_block, blocks);
  else
    philox_f32_kernel<RandomDistribution::Normal><<<grid_for(blocks), kBlock, 0, stream>>>(out, n, seed,
                                                                                           first_block, blocks);
  LATENT_CUDA_CHECK(cudaGetLastError());
}

inline void philox(RandomDistribution dist, double* out, int64_t n, uint64_t seed, uint64_t first_block,
                   cudaStream_t stream) {
  if (n <= 0) return;
  int64_t blocks = (n + 1) / 2;
  if (dist == RandomDistribution::Uniform)
    philox_f64_kernel<RandomDistribution::Uniform><<<grid_for(blocks), kBlock, 0, stream>>>(out, n, seed,
                                                                                            first_block, blocks);
  else
    philox_f64_kernel<RandomDistribution::Normal><<<grid_for(blocks), kBlock, 0, stream>>>(out, n, seed,
                                                                                           first_block, blocks);
  LATENT_CUDA_CHECK(cudaGetLastError());
}

}  // namespace latent::cuda::kernels
