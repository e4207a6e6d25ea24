// Shared pieces of the CUDA kernels: error checks that throw latent::Error (naming the call,
// file:line and the CUDA/cuBLAS error string), launch geometry for grid-stride loops, and
// StridedDesc index arithmetic (row-major linear index -> element offsets, as in
// backend/cpu/loops.hpp). Included only by kernels/latent_cuda.cu.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include <latent/backend/cuda/backend.hpp>
#include <latent/core/error.hpp>

namespace latent::cuda::detail {

inline void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // reset the last-error state so the next launch check does not see it again
  throw Error(latent::detail::str_cat("CUDA error in ", call, ": ", cudaGetErrorName(status), " (",
                                      cudaGetErrorString(status), ") (", file, ":", line, ")"));
}
inline void check_cuda(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw Error(latent::detail::str_cat("cuBLAS error in ", call, ": ", cublasGetStatusName(status), " (",
                                      cublasGetStatusString(status), ") (", file, ":", line, ")"));
}

}  // namespace latent::cuda::detail

// LATENT_CUDA_CHECK(cudaMalloc(&p, n)) or LATENT_CUDA_CHECK(cublasSgemm(...)): throws on failure.
#define LATENT_CUDA_CHECK(call) ::latent::cuda::detail::check_cuda((call), #call, __FILE__, __LINE__)

namespace latent::cuda::kernels {

inline constexpr int kBlock = 256;          // threads per block for element-wise kernels
inline constexpr int64_t kMaxGrid = 1 << 16;  // grid-stride loops cover the rest

// Blocks for n work items, one per thread, capped (kernels loop with a grid stride).
inline unsigned grid_for(int64_t n, int block = kBlock) {
  return static_cast<unsigned>(std::clamp<int64_t>((n + block - 1) / block, 1, kMaxGrid));
}

__device__ inline int64_t grid_start() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline int64_t grid_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

inline int64_t desc_numel(const StridedDesc& d) {
  int64_t n = 1;
  for (int i = 0; i < d.rank; ++i) n *= d.shape[i];
  return n;
}

// The same iteration space with fewer dims: extent-1 dims dropped, and neighbours merged
// where every operand is contiguous across them ((.., n0, n1, ..) with s0 == s1 * n1 for
// out, a, b and c becomes (.., n0 * n1, ..) with stride s1). All-contiguous becomes rank 1.
inline StridedDesc coalesce(const StridedDesc& d) {
  StridedDesc c;
  c.a_offset = d.a_offset;
  c.b_offset = d.b_offset;
  c.c_offset = d.c_offset;
  c.out_offset = d.out_offset;
  for (int i = 0; i < d.rank; ++i) {
    if (d.shape[i] == 1) continue;
    int r = c.rank;
    if (r > 0) {
      int64_t n = d.shape[i];
      bool merge = c.out_strides[r - 1] == d.out_strides[i] * n && c.a_strides[r - 1] == d.a_strides[i] * n &&
                   c.b_strides[r - 1] == d.b_strides[i] * n && c.c_strides[r - 1] == d.c_strides[i] * n;
      if (merge) {
        c.shape[r - 1] *= n;
        c.out_strides[r - 1] = d.out_strides[i];
        c.a_strides[r - 1] = d.a_strides[i];
        c.b_strides[r - 1] = d.b_strides[i];
        c.c_strides[r - 1] = d.c_strides[i];
        continue;
      }
    }
    c.shape[r] = d.shape[i];
    c.out_strides[r] = d.out_strides[i];
    c.a_strides[r] = d.a_strides[i];
    c.b_strides[r] = d.b_strides[i];
    c.c_strides[r] = d.c_strides[i];
    c.rank = r + 1;
  }
  return c;
}

// Element offsets of row-major linear index i in out, a, b and c (offsets a kernel does not
// use are dead code after inlining). Index is uint32_t when the iteration space fits
// (32-bit division is several times cheaper), else int64_t.
template <typename Index>
__device__ inline void strided_offsets(const StridedDesc& d, Index i, int64_t& out, int64_t& a, int64_t& b,
                                       int64_t& c) {
  out = d.out_offset;
  a = d.a_offset;
  b = d.b_offset;
  c = d.c_offset;
#pragma unroll
  for (int k = kMaxRank - 1; k >= 0; --k) {
    if (k < d.rank) {
      Index extent = static_cast<Index>(d.shape[k]);
      Index idx = i % extent;
      i /= extent;
      out += static_cast<int64_t>(idx) * d.out_strides[k];
      a += static_cast<int64_t>(idx) * d.a_strides[k];
      b += static_cast<int64_t>(idx) * d.b_strides[k];
      c += static_cast<int64_t>(idx) * d.c_strides[k];
    }
  }
}

}  // namespace latent::cuda::kernels
