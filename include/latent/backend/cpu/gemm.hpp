// Row-major GEMM on raw pointers: C = alpha * op(A) * op(B) + beta * C.
// float/double go to OpenBLAS (its OpenMP build, so one thread pool) when latent was
// configured with it (LATENT_USE_OPENBLAS, the default where libopenblas is installed):
// measured here at 88 GFLOP/s per core against Eigen's 58 for n = 1024. Otherwise, and
// for other element types, Eigen's GEMM runs on maps of the same memory.
// Two shapes that small models run all the time bypass the BLAS call as it stands:
// - a tiny inner dimension (k <= kSmallGemmK: the first layer of a 2-input MLP, the
//   rank-1 gradient of a 1-output layer) runs a direct kernel (small_k_gemm);
// - mid-sized products (small_split_gemm's range) are split across the OpenMP threads
//   by us, each thread calling the single-threaded BLAS on its block of C.
#pragma once
#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "parallel.hpp"

#if defined(LATENT_USE_OPENBLAS)
#include <cblas.h>
#endif

namespace latent::cpu {

template <typename T>
using RowMajorMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0,
                               Eigen::OuterStride<>>;
template <typename T>
using ConstRowMajorMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>,
                                    0, Eigen::OuterStride<>>;

template <typename T>
void eigen_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  RowMajorMap<T> C(c, m, n, Eigen::OuterStride<>(ldc));
  if (beta == T(0)) C.setZero();
  else if (beta != T(1)) C *= beta;
  if (k == 0) return;
  ConstRowMajorMap<T> A(a, trans_a ? k : m, trans_a ? m : k, Eigen::OuterStride<>(lda));
  ConstRowMajorMap<T> B(b, trans_b ? n : k, trans_b ? k : n, Eigen::OuterStride<>(ldb));
  if (!trans_a && !trans_b) C.noalias() += alpha * A * B;
  else if (trans_a && !trans_b) C.noalias() += alpha * A.transpose() * B;
  else if (!trans_a && trans_b) C.noalias() += alpha * A * B.transpose();
  else C.noalias() += alpha * A.transpose() * B.transpose();
}

// ---------------------------------------------------------------- tiny inner dimension
// Largest k that small_k_gemm handles. For k = 1 or 2 and m = 512, n = 50 OpenBLAS and
// Eigen both took 13-14 us (packing, and a separate pass zeroing C for beta = 0) for a
// product that writes 100 KB; the direct kernel below is one pass over C (~2 us).
inline constexpr int64_t kSmallGemmK = 8;

// One row of C: c[j] = sum_p coef[p] * bk[p * n + j] (+ beta * c[j]). K is a template
// argument so the p loop unrolls into registers and the j loop vectorises; __restrict
// spares the compiler its run-time overlap checks (bk is small_k_gemm's own buffer).
template <typename T, int K>
inline void small_k_row(const T* __restrict coef, const T* __restrict bk, int64_t n, T beta, T* __restrict c) {
  if (beta == T(0)) {  // BLAS semantics: C is not read (it may be uninitialised)
    for (int64_t j = 0; j < n; ++j) {
      T s = coef[0] * bk[j];
      for (int p = 1; p < K; ++p) s += coef[p] * bk[p * n + j];
      c[j] = s;
    }
  } else {
    for (int64_t j = 0; j < n; ++j) {
      T s = coef[0] * bk[j];
      for (int p = 1; p < K; ++p) s += coef[p] * bk[p * n + j];
      c[j] = beta * c[j] + s;
    }
  }
}

template <typename T, int K>
void small_k_gemm_fixed(bool trans_a, int64_t m, int64_t n, T alpha, const T* a, int64_t lda, const T* bk,
                        T beta, T* c, int64_t ldc) {
  // A(i, p) sits at a[i * lda + p], or a[p * lda + i] when stored transposed.
  const int64_t a_row = trans_a ? 1 : lda, a_col = trans_a ? lda : 1;
  // Writing C is the cost (as an element-wise op), so the grain counts its elements.
  parallel_for(m, n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      T coef[K];
      for (int p = 0; p < K; ++p) coef[p] = alpha * a[i * a_row + p * a_col];
      small_k_row<T, K>(coef, bk, n, beta, c + i * ldc);
    }
  });
}

// C = alpha * op(A) op(B) + beta * C for 1 <= k <= kSmallGemmK. op(B) (k x n) is first
// copied into a dense k x n buffer: that is k * n elements against the m * n of C, and it
// turns a transposed B into unit-stride rows.
template <typename T>
void small_k_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                  const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  thread_local std::vector<T> buffer;
  buffer.resize(static_cast<size_t>(k * n));
  T* bk = buffer.data();
  for (int64_t p = 0; p < k; ++p)
    for (int64_t j = 0; j < n; ++j) bk[p * n + j] = trans_b ? b[j * ldb + p] : b[p * ldb + j];
  switch (k) {
    case 1: return small_k_gemm_fixed<T, 1>(trans_a, m, n, alpha, a, lda, bk, beta, c, ldc);
    case 2: return small_k_gemm_fixed<T, 2>(trans_a, m, n, alpha, a, lda, bk, beta, c, ldc);
    case 3: return small_k_gemm_fixed<T, 3>(trans_a, m, n, alpha, a, lda, bk, beta, c, ldc);
    case 4: return small_k_gemm_fixed<T, 4>(trans_a, m, n, alpha, a, lda, bk, beta, c, ldc);
    case 5: return small_k_gemm_fixed<T, 5>(trans_a, m, n, alpha, a, lda, bk, beta, c, ldc);
    case 6: return small_k_gemm_fixed<T, 6>(trans_a, m, n, alpha, a, lda, bk, beta, c, ldc);
    case 7: return small_k_gemm_fixed<T, 7>(trans_a, m, n, alpha, a, lda, bk, beta, c, ldc);
    case 8: return small_k_gemm_fixed<T, 8>(trans_a, m, n, alpha, a, lda, bk, beta, c, ldc);
    default: break;
  }
}

// ---------------------------------------------------------------- one BLAS call
// The plain path: one (BLAS or Eigen) call for the whole product.
template <typename T>
void blas_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
               const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
#if defined(LATENT_USE_OPENBLAS)
  if (k > 0) {
    auto ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
    // A single output column or row is a matrix-vector product: OpenBLAS 0.3.21's GEMM
    // does not forward those to GEMV itself, and its GEMM packing dominates at that size.
    if (n == 1 || m == 1) {
      bool column = n == 1;
      // column: c[:, 0] = op(A) b_vec; row: c[0, :] = op(B)^T a_vec.
      const T* mat = column ? a : b;
      int64_t ld = column ? lda : ldb;
      bool mat_trans = column ? trans_a : !trans_b;
      int64_t rows = column ? (trans_a ? k : m) : (trans_b ? n : k);
      int64_t cols = column ? (trans_a ? m : k) : (trans_b ? k : n);
      const T* vec = column ? b : a;
      // The vector's stride: b (k,1) steps by ldb unless stored transposed; a (1,k) by 1 unless transposed.
      int64_t inc_vec = column ? (trans_b ? 1 : ldb) : (trans_a ? lda : 1);
      int64_t inc_out = column ? ldc : 1;
      auto op = mat_trans ? CblasTrans : CblasNoTrans;
      if constexpr (std::is_same_v<T, float>) {
        cblas_sgemv(CblasRowMajor, op, rows, cols, alpha, mat, ld, vec, inc_vec, beta, c, inc_out);
        return;
      } else if constexpr (std::is_same_v<T, double>) {
        cblas_dgemv(CblasRowMajor, op, rows, cols, alpha, mat, ld, vec, inc_vec, beta, c, inc_out);
        return;
      }
    }
    // beta = 0: zero C here and ask for C += ..., because OpenBLAS 0.3.21's own beta = 0
    // pass (sgemm_beta) took ~7 us of a 45 us 512 x 50 x 50 product; a memset takes < 1 us.
    if (beta == T(0)) {
      if (ldc == n) std::memset(c, 0, sizeof(T) * static_cast<size_t>(m * n));
      else
        for (int64_t i = 0; i < m; ++i) std::memset(c + i * ldc, 0, sizeof(T) * static_cast<size_t>(n));
      beta = T(1);
    }
    if constexpr (std::is_same_v<T, float>) {
      cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    } else if constexpr (std::is_same_v<T, double>) {
      cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
  }
#endif
  eigen_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// ---------------------------------------------------------------- splitting across threads
// Products of m * n * k in [kSplitGemmMin, kSplitGemmMax) that small_split_gemm runs as one
// block per thread. OpenBLAS 0.3.21 runs a 512 x 50 x 50 product (an MLP's hidden layer)
// on one thread, or threads it at a loss; two blocks of C, each a single-threaded BLAS call
// inside our parallel region (OpenBLAS's OpenMP build goes single-threaded when
// omp_in_parallel()), nearly halve it. Above the range OpenBLAS's own threading wins
// (it packs each operand once for all threads).
inline constexpr int64_t kSplitGemmMin = int64_t(1) << 18;  // 64^3: a parallel region costs ~µs
inline constexpr int64_t kSplitGemmMax = int64_t(1) << 24;  // 256^3

// Splits C into per-thread blocks of rows (or columns, when C is wider than tall) and runs
// blas_gemm on each. Returns false (nothing done) when the product should not be split.
template <typename T>
bool small_split_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                      int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
#if defined(_OPENMP)
  const int64_t work = m * n * k;
  const int threads = omp_get_max_threads();
  if (threads < 2 || omp_in_parallel() || work < kSplitGemmMin || work >= kSplitGemmMax) return false;
  const bool by_rows = m >= n;
  const int64_t extent = by_rows ? m : n;
  // Blocks narrower than 16 rows/columns waste the BLAS micro-kernel's register tile.
  const int chunks = static_cast<int>(std::min<int64_t>(threads, extent / 16));
  if (chunks < 2) return false;
#pragma omp parallel num_threads(chunks)
  {
    const int t = omp_get_thread_num();
    const int64_t lo = extent * t / chunks, hi = extent * (t + 1) / chunks;
    if (by_rows) {  // rows lo..hi of op(A) and C
      const T* a_blk = trans_a ? a + lo : a + lo * lda;
      blas_gemm(trans_a, trans_b, hi - lo, n, k, alpha, a_blk, lda, b, ldb, beta, c + lo * ldc, ldc);
    } else {  // columns lo..hi of op(B) and C
      const T* b_blk = trans_b ? b + lo * ldb : b + lo;
      blas_gemm(trans_a, trans_b, m, hi - lo, k, alpha, a, lda, b_blk, ldb, beta, c + lo, ldc);
    }
  }
  return true;
#else
  (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb,
      (void)beta, (void)c, (void)ldc;
  return false;
#endif
}

// A is (m,k) if !trans_a else stored (k,m); B is (k,n) if !trans_b else stored (n,k).
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k >= 1 && k <= kSmallGemmK) {
    small_k_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  if (small_split_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
  blas_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace latent::cpu
