// Element-wise kernels: fill, strided copy and the broadcasting binary ops (add, sub, mul,
// div). Shapes and strides come in a StridedDesc (out/a/b over the broadcast shape, strides
// 0 in broadcast dims), coalesced first so contiguous operands take the flat path.
// Glossary: n elements; so, sa, sb element strides of out, a, b on the flat path.
#pragma once
#include "common.cuh"

namespace latent::cuda::kernels {

// ---------------------------------------------------------------- CUDA kernels
// out[i] = value, i < n
template <typename T>
__global__ void fill_kernel(T* out, int64_t n, T value) {
  for (int64_t i = grid_start(); i < n; i += grid_stride()) out[i] = value;
}

struct AddOp { template <typename T> __device__ T operator()(T x, T y) const { return x + y; } };
struct SubOp { template <typename T> __device__ T operator()(T x, T y) const { return x - y; } };
struct MulOp { template <typename T> __device__ T operator()(T x, T y) const { return x * y; } };
struct DivOp { template <typename T> __device__ T operator()(T x, T y) const { return x / y; } };
// Copy is a binary op that ignores b (so copy and binary share their two kernels).
struct CopyOp { template <typename T> __device__ T operator()(T x, T) const { return x; } };

// Flat path (rank <= 1 after coalescing): out[i*so] = op(a[i*sa], b[i*sb]), i < n.
// Covers all-contiguous operands (strides 1) and a scalar operand (stride 0).
template <typename T, typename Op>
__global__ void binary_flat_kernel(T* out, const T* a, const T* b, int64_t n, int64_t so, int64_t sa, int64_t sb,
                                   Op op) {
  for (int64_t i = grid_start(); i < n; i += grid_stride()) out[i * so] = op(a[i * sa], b[i * sb]);
}

// General path: linear index -> offsets through desc (rank <= 8).
template <typename T, typename Op, typename Index>
__global__ void binary_strided_kernel(T* out, const T* a, const T* b, int64_t n, StridedDesc desc, Op op) {
  for (int64_t i = grid_start(); i < n; i += grid_stride()) {
    int64_t oo, oa, ob;
    strided_offsets<Index>(desc, static_cast<Index>(i), oo, oa, ob);
    out[oo] = op(a[oa], b[ob]);
  }
}

// ---------------------------------------------------------------- kernel launchers
template <typename T>
void fill(T* out, int64_t n, T value, cudaStream_t stream) {
  if (n <= 0) return;
  fill_kernel<T><<<grid_for(n), kBlock, 0, stream>>>(out, n, value);
  LATENT_CUDA_CHECK(cudaGetLastError());
}

// out = op(a, b) over desc (b may be null for CopyOp).
template <typename T, typename Op>
void binary(T* out, const T* a, const T* b, const StridedDesc& desc, Op op, cudaStream_t stream) {
  StridedDesc d = coalesce(desc);
  int64_t n = desc_numel(d);
  if (n <= 0) return;
  if (!b) b = a;  // CopyOp never reads it
  out += d.out_offset;
  a += d.a_offset;
  b += d.b_offset;
  if (d.rank <= 1) {
    int64_t so = d.rank ? d.out_strides[0] : 0, sa = d.rank ? d.a_strides[0] : 0, sb = d.rank ? d.b_strides[0] : 0;
    binary_flat_kernel<T, Op><<<grid_for(n), kBlock, 0, stream>>>(out, a, b, n, so, sa, sb, op);
  } else {
    d.out_offset = d.a_offset = d.b_offset = 0;
    if (n <= INT32_MAX)
      binary_strided_kernel<T, Op, uint32_t><<<grid_for(n), kBlock, 0, stream>>>(out, a, b, n, d, op);
    else
      binary_strided_kernel<T, Op, int64_t><<<grid_for(n), kBlock, 0, stream>>>(out, a, b, n, d, op);
  }
  LATENT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void binary(BinaryOp op, T* out, const T* a, const T* b, const StridedDesc& desc, cudaStream_t stream) {
  switch (op) {
    case BinaryOp::Add: return binary(out, a, b, desc, AddOp{}, stream);
    case BinaryOp::Sub: return binary(out, a, b, desc, SubOp{}, stream);
    case BinaryOp::Mul: return binary(out, a, b, desc, MulOp{}, stream);
    case BinaryOp::Div: return binary(out, a, b, desc, DivOp{}, stream);
  }
  LATENT_CHECK(false, "cuda binary: unknown op ", static_cast<int>(op));
}

// out[desc] = a[desc]; both contiguous becomes one cudaMemcpyAsync.
template <typename T>
void strided_copy(T* out, const T* a, const StridedDesc& desc, cudaStream_t stream) {
  StridedDesc d = coalesce(desc);
  int64_t n = desc_numel(d);
  if (n <= 0) return;
  bool flat = d.rank == 0 || (d.rank == 1 && d.out_strides[0] == 1 && d.a_strides[0] == 1);
  if (flat) {
    LATENT_CUDA_CHECK(cudaMemcpyAsync(out + d.out_offset, a + d.a_offset, sizeof(T) * n, cudaMemcpyDeviceToDevice,
                                      stream));
    return;
  }
  binary(out, a, static_cast<const T*>(nullptr), desc, CopyOp{}, stream);
}

}  // namespace latent::cuda::kernels
