// Reductions. The full sum runs in two passes: each block folds a grid-stride slice into
// one partial (warp shuffles, then one value per warp through shared memory), and a single
// block folds the partials. Reductions over dims see the input as a contiguous
// (outer, R, inner) array (ops/reduce.hpp) and fold R: a block per row when rows are
// contiguous and long, else a thread per output. Sums accumulate in double for float too,
// as the CPU's sum_kernel does, and every grid depends only on the shape, so results are
// deterministic run to run.
// Glossary: n elements of a; P partials (one per block of pass 1); (o, r, i) an element of
// the (outer, R, inner) layout.
#pragma once
#include "common.cuh"
#include "elementwise.cuh"

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

// ---------------------------------------------------------------- reductions over R
// A value and the first r it was found at; `better` is the CPU's extreme_kernel rule
// (the first NaN wins, then the first strict extreme).
template <typename T>
struct Extreme {
  T value;
  int64_t index;
};
template <typename T>
__device__ inline bool better(const Extreme<T>& x, const Extreme<T>& y, bool want_max) {  // x beats y
  bool nx = isnan(x.value), ny = isnan(y.value);
  if (nx || ny) return nx && (!ny || x.index < y.index);
  if (x.value == y.value) return x.index < y.index;
  return want_max ? x.value > y.value : x.value < y.value;
}

// Row o of an (outer, R) array per block (grid-stride over rows); blockDim.x == kReduceBlock.
template <typename T>
__global__ void sum_rows_kernel(const T* x, int64_t outer, int64_t R, T* out, double scale) {
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* row = x + o * R;
    double acc = 0;
    for (int64_t r = threadIdx.x; r < R; r += blockDim.x) acc += static_cast<double>(row[r]);
    acc = block_sum(acc);
    if (threadIdx.x == 0) out[o] = static_cast<T>(acc * scale);
    __syncthreads();  // warp_sums is reused by the next row
  }
}

template <typename T>
__global__ void extreme_rows_kernel(const T* x, int64_t outer, int64_t R, T* out, int64_t* index, bool want_max) {
  __shared__ T values[kReduceBlock];
  __shared__ int64_t indices[kReduceBlock];
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* row = x + o * R;
    Extreme<T> best{row[0], 0};  // every thread starts from r = 0: a valid candidate
    for (int64_t r = threadIdx.x; r < R; r += blockDim.x) {
      Extreme<T> v{row[r], r};
      if (better(v, best, want_max)) best = v;
    }
    values[threadIdx.x] = best.value;
    indices[threadIdx.x] = best.index;
    __syncthreads();
    for (int width = blockDim.x / 2; width > 0; width /= 2) {
      if (threadIdx.x < width) {
        Extreme<T> mine{values[threadIdx.x], indices[threadIdx.x]};
        Extreme<T> other{values[threadIdx.x + width], indices[threadIdx.x + width]};
        if (better(other, mine, want_max)) {
          values[threadIdx.x] = other.value;
          indices[threadIdx.x] = other.index;
        }
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      out[o] = values[0];
      if (index) index[o] = indices[0];
    }
    __syncthreads();
  }
}

// One output (o, i) per thread, folding r in order (as the CPU does).
template <typename T>
__global__ void reduce_columns_kernel(ReduceOp op, const T* x, int64_t outer, int64_t R, int64_t inner, T* out,
                                      int64_t* index, double scale) {
  const int64_t n = outer * inner;
  for (int64_t w = grid_start(); w < n; w += grid_stride()) {
    const int64_t o = w / inner, i = w % inner;
    const T* src = x + o * R * inner + i;
    if (op == ReduceOp::Sum) {
      double acc = 0;
      for (int64_t r = 0; r < R; ++r) acc += static_cast<double>(src[r * inner]);
      out[w] = static_cast<T>(acc * scale);
    } else {
      const bool want_max = op == ReduceOp::Max;
      Extreme<T> best{src[0], 0};
      for (int64_t r = 1; r < R; ++r) {
        Extreme<T> v{src[r * inner], r};
        if (better(v, best, want_max)) best = v;
      }
      out[w] = best.value;
      if (index) index[w] = best.index;
    }
  }
}

// Rows at least this long get a block each (when inner == 1).
inline constexpr int64_t kRowPerBlockMin = 128;

// out (outer, inner) = op over R of x (outer, R, inner); see Backend::reduce_f32.
template <typename T>
void reduce(ReduceOp op, const T* x, int64_t outer, int64_t R, int64_t inner, T* out, int64_t* index, double scale,
            cudaStream_t stream) {
  if (outer <= 0 || inner <= 0) return;
  if (R == 0) {  // only Sum reaches here (Max/Min require R >= 1): an empty sum is 0
    fill(out, outer * inner, T(0), stream);
    return;
  }
  if (inner == 1 && R >= kRowPerBlockMin) {
    unsigned grid = static_cast<unsigned>(std::min<int64_t>(outer, kMaxGrid));
    if (op == ReduceOp::Sum)
      sum_rows_kernel<T><<<grid, kReduceBlock, 0, stream>>>(x, outer, R, out, scale);
    else
      extreme_rows_kernel<T><<<grid, kReduceBlock, 0, stream>>>(x, outer, R, out, index, op == ReduceOp::Max);
  } else {
    reduce_columns_kernel<T><<<grid_for(outer * inner), kBlock, 0, stream>>>(op, x, outer, R, inner, out, index,
                                                                               scale);
  }
  LATENT_CUDA_CHECK(cudaGetLastError());
}

}  // namespace latent::cuda::kernels
