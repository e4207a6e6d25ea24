// Element-wise kernels: fill, strided copy, and the maps of one, two or three operands
// with broadcasting (the functors of backend/pointwise.hpp, shared with the CPU loops;
// `where` is the three-operand map). Shapes and strides come in a StridedDesc (out and
// the operands over the broadcast shape, strides 0 in broadcast dims), coalesced first so
// contiguous operands take the flat path.
// Glossary: n elements; so, sa, sb, sc element strides of out, a, b, c on the flat path.
#pragma once
#include <latent/backend/pointwise.hpp>

#include <type_traits>

#include "common.cuh"

namespace latent::cuda::kernels {

// ---------------------------------------------------------------- CUDA kernels
// out[i] = value, i < n
template <typename T>
__global__ void fill_kernel(T* out, int64_t n, T value) {
  for (int64_t i = grid_start(); i < n; i += grid_stride()) out[i] = value;
}

// Copy is a map of one operand that returns it.
struct CopyFn { template <typename T> __device__ T operator()(T x) const { return x; } };

template <int Arity, typename T, typename F>
__device__ inline T apply(const F& f, const T* a, const T* b, const T* c, int64_t oa, int64_t ob, int64_t oc) {
  if constexpr (Arity == 1) return f(a[oa]);
  else if constexpr (Arity == 2) return f(a[oa], b[ob]);
  else return f(a[oa], b[ob], c[oc]);
}

// Flat path (rank <= 1 after coalescing): out[i*so] = f(a[i*sa], b[i*sb], c[i*sc]), i < n.
// Covers all-contiguous operands (strides 1) and scalar operands (stride 0).
template <int Arity, typename T, typename F>
__global__ void map_flat_kernel(T* out, const T* a, const T* b, const T* c, int64_t n, int64_t so, int64_t sa,
                                int64_t sb, int64_t sc, F f) {
  for (int64_t i = grid_start(); i < n; i += grid_stride()) out[i * so] = apply<Arity>(f, a, b, c, i * sa, i * sb, i * sc);
}

// General path: linear index -> offsets through desc (rank <= 8).
template <int Arity, typename T, typename F, typename Index>
__global__ void map_strided_kernel(T* out, const T* a, const T* b, const T* c, int64_t n, StridedDesc desc, F f) {
  for (int64_t i = grid_start(); i < n; i += grid_stride()) {
    int64_t oo, oa, ob, oc;
    strided_offsets<Index>(desc, static_cast<Index>(i), oo, oa, ob, oc);
    out[oo] = apply<Arity>(f, a, b, c, oa, ob, oc);
  }
}

// ---------------------------------------------------------------- kernel launchers
template <typename T>
void fill(T* out, int64_t n, T value, cudaStream_t stream) {
  if (n <= 0) return;
  fill_kernel<T><<<grid_for(n), kBlock, 0, stream>>>(out, n, value);
  LATENT_CUDA_CHECK(cudaGetLastError());
}

// out = f(a[, b[, c]]) over desc; operands beyond Arity may be null.
template <int Arity, typename T, typename F>
void map(T* out, const T* a, std::type_identity_t<const T*> b, std::type_identity_t<const T*> c,
         const StridedDesc& desc, F f, cudaStream_t stream) {
  StridedDesc d = coalesce(desc);
  int64_t n = desc_numel(d);
  if (n <= 0) return;
  if (!b) b = a;  // never read when Arity < 2
  if (!c) c = a;
  out += d.out_offset;
  a += d.a_offset;
  b += d.b_offset;
  c += d.c_offset;
  if (d.rank <= 1) {
    auto stride = [&](const int64_t* s) { return d.rank ? s[0] : int64_t(0); };
    map_flat_kernel<Arity, T, F><<<grid_for(n), kBlock, 0, stream>>>(
        out, a, b, c, n, stride(d.out_strides), stride(d.a_strides), stride(d.b_strides), stride(d.c_strides), f);
  } else {
    d.out_offset = d.a_offset = d.b_offset = d.c_offset = 0;
    if (n <= INT32_MAX)
      map_strided_kernel<Arity, T, F, uint32_t><<<grid_for(n), kBlock, 0, stream>>>(out, a, b, c, n, d, f);
    else
      map_strided_kernel<Arity, T, F, int64_t><<<grid_for(n), kBlock, 0, stream>>>(out, a, b, c, n, d, f);
  }
  LATENT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void unary(UnaryOp op, T* out, const T* a, const StridedDesc& desc, double p0, double p1, cudaStream_t stream) {
  switch (op) {
#define LATENT_UNARY_CASE(name) \
  case UnaryOp::name: return map<1>(out, a, nullptr, nullptr, desc, pointwise::UnaryFn<UnaryOp::name, T>{p0, p1}, stream);
    LATENT_POINTWISE_UNARY_OPS(LATENT_UNARY_CASE)
#undef LATENT_UNARY_CASE
  }
  LATENT_CHECK(false, "cuda unary: unknown op ", static_cast<int>(op));
}

template <typename T>
void binary(BinaryOp op, T* out, const T* a, const T* b, const StridedDesc& desc, cudaStream_t stream) {
  switch (op) {
#define LATENT_BINARY_CASE(name) \
  case BinaryOp::name: return map<2>(out, a, b, nullptr, desc, pointwise::BinaryFn<BinaryOp::name, T>{}, stream);
    LATENT_POINTWISE_BINARY_OPS(LATENT_BINARY_CASE)
#undef LATENT_BINARY_CASE
  }
  LATENT_CHECK(false, "cuda binary: unknown op ", static_cast<int>(op));
}

// out = cond != 0 ? a : b over desc (cond, a, b in the a, b, c slots).
template <typename T>
void where(T* out, const T* cond, const T* a, const T* b, const StridedDesc& desc, cudaStream_t stream) {
  map<3>(out, cond, a, b, desc, pointwise::WhereFn<T>{}, stream);
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
  map<1>(out, a, nullptr, nullptr, desc, CopyFn{}, stream);
}

}  // namespace latent::cuda::kernels
