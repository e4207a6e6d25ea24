// The CPU GEMM's special paths (backend/cpu/gemm.hpp) against the plain one-call path and a
// naive reference: the direct kernel for a tiny inner dimension (k <= kSmallGemmK) and the
// per-thread split of mid-sized products, on odd shapes, both transposes, leading
// dimensions wider than the matrix, and alpha/beta values that exercise every branch.
#include "helpers.hpp"

#include <cmath>
#include <limits>
#include <random>

using namespace latent;

namespace {

struct GemmCase {
  bool ta, tb;
  int64_t m, n, k;
  int64_t pad;  // extra elements per row of A, B and C (leading dimension > width)
  double alpha, beta;
};

// Runs `path` on padded buffers and checks C against a double-precision reference, and
// that the padding of C (outside the m x n block) is untouched.
template <typename T, typename Path>
void check_gemm(const GemmCase& g, Path path, double tol) {
  INFO("m=" << g.m << " n=" << g.n << " k=" << g.k << " ta=" << g.ta << " tb=" << g.tb << " pad=" << g.pad
            << " alpha=" << g.alpha << " beta=" << g.beta);
  std::mt19937 rng(static_cast<unsigned>(g.m * 131 + g.n * 17 + g.k));
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  const int64_t a_rows = g.ta ? g.k : g.m, a_cols = g.ta ? g.m : g.k;
  const int64_t b_rows = g.tb ? g.n : g.k, b_cols = g.tb ? g.k : g.n;
  const int64_t lda = a_cols + g.pad, ldb = b_cols + g.pad, ldc = g.n + g.pad;
  std::vector<T> A(static_cast<size_t>(a_rows * lda)), B(static_cast<size_t>(b_rows * ldb));
  for (auto& v : A) v = static_cast<T>(dist(rng));
  for (auto& v : B) v = static_cast<T>(dist(rng));
  const T sentinel = T(12345);
  std::vector<T> C(static_cast<size_t>(g.m * ldc), sentinel);
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j)
      // beta = 0 must not read C: NaN there would leak into the result.
      C[i * ldc + j] = g.beta == 0 ? std::numeric_limits<T>::quiet_NaN() : static_cast<T>(dist(rng));
  std::vector<T> C0 = C;
  path(g.ta, g.tb, g.m, g.n, g.k, T(g.alpha), A.data(), lda, B.data(), ldb, T(g.beta), C.data(), ldc);
  // One assertion per case (the worst element), not one per element.
  double worst = 0;
  std::string where = "none";
  bool padding_intact = true;
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      const double got = C[i * ldc + j];
      if (j >= g.n) {
        padding_intact = padding_intact && got == double(sentinel);
        continue;
      }
      double ref = 0;
      for (int64_t p = 0; p < g.k; ++p) {
        const double a = g.ta ? A[p * lda + i] : A[i * lda + p];
        const double b = g.tb ? B[j * ldb + p] : B[p * ldb + j];
        ref += a * b;
      }
      ref = g.alpha * ref + (g.beta == 0 ? 0.0 : g.beta * double(C0[i * ldc + j]));
      const double err = std::abs(got - ref) / (1.0 + std::abs(ref));
      if (!(err <= worst)) {  // NaN counts as the worst
        worst = std::isnan(err) ? std::numeric_limits<double>::infinity() : err;
        where = detail::str_cat("C(", i, ", ", j, ") = ", got, ", reference ", ref);
      }
    }
  INFO("worst element: " << where);
  REQUIRE(padding_intact);
  REQUIRE(worst <= tol);
}

template <typename T>
void gemm_entry(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
                int64_t ldb, T beta, T* c, int64_t ldc) {
  cpu::gemm<T>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
template <typename T>
void plain_entry(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
                 int64_t ldb, T beta, T* c, int64_t ldc) {
  cpu::blas_gemm<T>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Restores the thread count on scope exit.
struct ThreadsGuard {
  int saved = get_num_threads();
  explicit ThreadsGuard(int n) { set_num_threads(n); }
  ~ThreadsGuard() { set_num_threads(saved); }
};

}  // namespace

TEST_CASE("gemm paths: tiny-k kernel matches the reference for every layout", "[linalg][gemm]") {
  for (int threads : {1, 2}) {
    ThreadsGuard guard(threads);
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (int64_t k = 1; k <= cpu::kSmallGemmK + 1; ++k)  // k = 9 takes the BLAS path
          for (auto [m, n] : {std::pair<int64_t, int64_t>{1, 1}, {7, 1}, {1, 13}, {37, 21}, {3000, 19}})
            for (int64_t pad : {0, 3})
              for (auto [alpha, beta] : {std::pair{1.0, 0.0}, {-0.5, 1.0}, {2.0, -0.75}}) {
                GemmCase g{bool(ta), bool(tb), m, n, k, pad, alpha, beta};
                check_gemm<float>(g, gemm_entry<float>, 1e-5);
                check_gemm<double>(g, gemm_entry<double>, 1e-12);
              }
  }
}

TEST_CASE("gemm paths: the per-thread split matches the one-call path", "[linalg][gemm]") {
  // Shapes inside [kSplitGemmMin, kSplitGemmMax): taller than wide (split by rows), wider
  // than tall (by columns), the MLP's shapes, and one just below the range.
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes{
      {97, 61, 53}, {37, 131, 71}, {512, 50, 50}, {50, 50, 512}, {33, 17, 65}};
  for (auto [m, n, k] : shapes) {
    const int64_t work = m * n * k;
    if (m != 33) REQUIRE((work >= cpu::kSplitGemmMin && work < cpu::kSplitGemmMax));
  }
  for (int threads : {1, 2, 3}) {
    ThreadsGuard guard(threads);
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (auto [m, n, k] : shapes)
          for (int64_t pad : {0, 5})
            for (auto [alpha, beta] : {std::pair{1.0, 0.0}, {0.5, 1.0}}) {
              INFO("threads=" << threads);
              GemmCase g{bool(ta), bool(tb), m, n, k, pad, alpha, beta};
              check_gemm<float>(g, gemm_entry<float>, 1e-4);
              check_gemm<double>(g, gemm_entry<double>, 1e-12);
              check_gemm<double>(g, plain_entry<double>, 1e-12);
            }
  }
}

TEST_CASE("gemm paths: mm, addmm and bmm agree with the plain path on tiny-k and split shapes",
          "[linalg][gemm]") {
  ThreadsGuard guard(2);
  Generator gen(3);
  for (auto [m, k, n] : {std::tuple<int64_t, int64_t, int64_t>{512, 2, 50}, {512, 1, 50}, {5, 3, 2}, {512, 50, 50},
                         {50, 512, 50}, {2, 512, 50}})
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        INFO("m=" << m << " k=" << k << " n=" << n << " ta=" << ta << " tb=" << tb);
        auto A = ta ? randn<double>({k, m}, gen).t() : randn<double>({m, k}, gen);
        auto B = tb ? randn<double>({n, k}, gen).t() : randn<double>({k, n}, gen);
        auto ref = (A.unsqueeze(2) * B.unsqueeze(0)).sum({1});
        LATENT_REQUIRE_CLOSE(mm(A, B), ref, 1e-12, 1e-12);
        auto bias = randn<double>({n}, gen);
        LATENT_REQUIRE_CLOSE(addmm(bias, A, B), ref + bias, 1e-12, 1e-12);
        LATENT_REQUIRE_CLOSE(mm(A.to<float>(), B.to<float>()), ref.to<float>(), 1e-4, 1e-4);
        // Batched: small products run one per thread, so gemm is called inside a region.
        auto A3 = stack<double>({A, A * 2.0, A}), B3 = stack<double>({B, B * -1.0, B});
        LATENT_REQUIRE_CLOSE(bmm(A3, B3), stack<double>({ref, ref * -2.0, ref}), 1e-12, 1e-12);
      }
}
