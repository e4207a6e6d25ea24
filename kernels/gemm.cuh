// Row-major batched GEMM on cuBLAS (column-major): a row-major matrix X (r x c, leading
// dimension ld) is, in the same memory, the column-major X^T. So row-major
// C = op(A) op(B) is computed as column-major C^T = op(B)^T op(A)^T: cuBLAS gets B first,
// then A, with m and n swapped and each operand's trans flag kept as it is.
// Glossary: C (m,n), op(A) (m,k), op(B) (k,n); lda/ldb/ldc row-major leading dimensions.
#pragma once
#include <climits>

#include "common.cuh"

namespace latent::cuda::kernels {

inline cublasStatus_t gemm_strided_batched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                           int n, int k, const float* alpha, const float* a, int lda,
                                           long long sa, const float* b, int ldb, long long sb,
                                           const float* beta, float* c, int ldc, long long sc, int batch) {
  return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
}
inline cublasStatus_t gemm_strided_batched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                           int n, int k, const double* alpha, const double* a, int lda,
                                           long long sa, const double* b, int ldb, long long sb,
                                           const double* beta, double* c, int ldc, long long sc, int batch) {
  return cublasDgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
}

// C[i] (m,n) = alpha * op(A[i]) op(B[i]) + beta * C[i], i < batch, all row-major; batch
// strides in elements (0 broadcasts A or B). trans_a: A is stored as (k,m), else (m,k).
template <typename T>
void gemm(cublasHandle_t handle, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta, T* c, int64_t ldc,
          int64_t stride_c, int64_t batch) {
  if (m <= 0 || n <= 0 || batch <= 0) return;
  check_gemm_args(trans_a, trans_b, m, n, k, lda, ldb, ldc, stride_c, batch);
  cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  // C^T (n x m, column-major, ldc) = op(B)^T (n x k) * op(A)^T (k x m).
  LATENT_CUDA_CHECK(gemm_strided_batched(handle, op_b, op_a, static_cast<int>(n), static_cast<int>(m),
                                         static_cast<int>(k), &alpha, b, static_cast<int>(ldb), stride_b, a,
                                         static_cast<int>(lda), stride_a, &beta, c, static_cast<int>(ldc), stride_c,
                                         static_cast<int>(batch)));
}

}  // namespace latent::cuda::kernels
