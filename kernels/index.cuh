// Indexing along one dim: gather (which also serves index_select, with an index broadcast
// over the other dims) and scatter_add (index_add likewise). The host has checked and
// normalised the indices (ops/index.hpp), so kernels read them as offsets in [0, len).
// scatter_add accumulates with atomicAdd: where indices repeat, the order of the additions
// (and so the last bits of a float sum) may differ from the CPU's and between runs.
// Glossary: desc's shape is the index's (broadcast) shape; its out strides address the
// result of gather (the source of scatter_add) in the b slot, a the tensor indexed along
// dim (with stride 0 in dim), c the index; dim_stride is a's stride along dim.
#pragma once
#include "common.cuh"

namespace latent::cuda::kernels {

// out[o(i)] = a[a(i) + index[c(i)] * dim_stride]
template <typename T, typename Index>
__global__ void gather_kernel(T* out, const T* a, const int64_t* index, int64_t n, StridedDesc desc,
                              int64_t dim_stride) {
  for (int64_t i = grid_start(); i < n; i += grid_stride()) {
    int64_t oo, oa, ob, oc;
    strided_offsets<Index>(desc, static_cast<Index>(i), oo, oa, ob, oc);
    out[oo] = a[oa + index[oc] * dim_stride];
  }
}

// a[a(i) + index[c(i)] * dim_stride] += src[b(i)]
template <typename T, typename Index>
__global__ void scatter_add_kernel(T* a, const T* src, const int64_t* index, int64_t n, StridedDesc desc,
                                   int64_t dim_stride) {
  for (int64_t i = grid_start(); i < n; i += grid_stride()) {
    int64_t oo, oa, ob, oc;
    strided_offsets<Index>(desc, static_cast<Index>(i), oo, oa, ob, oc);
    atomicAdd(a + oa + index[oc] * dim_stride, src[ob]);
  }
}

template <typename T>
void gather(T* out, const T* a, const int64_t* index, const StridedDesc& desc, int64_t dim_stride,
            cudaStream_t stream) {
  int64_t n = desc_numel(desc);
  if (n <= 0) return;
  if (n <= INT32_MAX)
    gather_kernel<T, uint32_t><<<grid_for(n), kBlock, 0, stream>>>(out, a, index, n, desc, dim_stride);
  else
    gather_kernel<T, int64_t><<<grid_for(n), kBlock, 0, stream>>>(out, a, index, n, desc, dim_stride);
  LATENT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void scatter_add(T* a, const T* src, const int64_t* index, const StridedDesc& desc, int64_t dim_stride,
                 cudaStream_t stream) {
  int64_t n = desc_numel(desc);
  if (n <= 0) return;
  if (n <= INT32_MAX)
    scatter_add_kernel<T, uint32_t><<<grid_for(n), kBlock, 0, stream>>>(a, src, index, n, desc, dim_stride);
  else
    scatter_add_kernel<T, int64_t><<<grid_for(n), kBlock, 0, stream>>>(a, src, index, n, desc, dim_stride);
  LATENT_CUDA_CHECK(cudaGetLastError());
}

}  // namespace latent::cuda::kernels
