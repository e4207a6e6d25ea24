// latent::metrics Frechet distance between two Gaussians (RECIPES R8), the distance FID
// takes between Gaussians fitted to features of real and generated samples:
//
//   d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))
//
//   auto real = metrics::gaussian_stats(features_real);   // (N, D) -> mu (D), sigma (D, D), n
//   auto fake = metrics::gaussian_stats(features_fake);
//   double fid = metrics::frechet_distance(real, fake);   // or (mu1, sigma1, mu2, sigma2)
//
// Tr((S1 S2)^(1/2)) is computed on a symmetric matrix: S1 S2 is similar to
// M = S1^(1/2) S2 S1^(1/2) (S1^(1/2) M S1^(-1/2) when S1 is invertible, and the
// eigenvalues agree in the limit otherwise), and M is positive semi-definite, so
//   Tr((S1 S2)^(1/2)) = sum_i sqrt(max(lambda_i(M), 0)),
// with S1^(1/2) and the lambda_i from Eigen's SelfAdjointEigenSolver. Unlike
// scipy.linalg.sqrtm (pytorch-fid) or torch.linalg.eigvals on the non-symmetric S1 S2
// (torchmetrics) this never produces complex parts to discard. Eigenvalues (of S1 and of M)
// at or below D * eps * the largest one count as 0: they are rounding noise around a true 0,
// whose square roots (~1e-8 each) would otherwise add up for singular covariances (fewer
// samples than features, the usual case for FID with small evaluation sets). Everything is
// computed in double, whatever the tensors' element type; tensors may live on any device
// (they are copied to the host).
//
// gaussian_stats gives the unbiased covariance (divided by N - 1), as numpy.cov,
// torch.cov and torchmetrics' FID. Means and scatter are accumulated over row blocks with
// Chan et al.'s pairwise update (no E[x x^T] - mu mu^T cancellation).
#pragma once
#include <Eigen/Core>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "../latent.hpp"

namespace latent::metrics {

// A Gaussian fitted to n samples: mean (D), unbiased covariance (D, D), both double.
struct GaussianStats {
  Tensor<double> mu, sigma;
  int64_t n = 0;
};

namespace detail {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A 2-D tensor (any device, any layout) as a double matrix.
template <typename T>
Eigen::MatrixXd to_matrix(const Tensor<T>& t) {
  std::vector<T> v = t.to_vector();
  Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> m(v.data(), t.size(0),
                                                                                        t.size(1));
  return m.template cast<double>();
}

// A 1-D tensor as a double vector.
template <typename T>
Eigen::VectorXd to_vector_xd(const Tensor<T>& t) {
  std::vector<T> v = t.to_vector();
  Eigen::VectorXd out(static_cast<Eigen::Index>(v.size()));
  for (size_t i = 0; i < v.size(); ++i) out[static_cast<Eigen::Index>(i)] = static_cast<double>(v[i]);
  return out;
}

inline Tensor<double> to_tensor(const Eigen::VectorXd& v) {
  return from_vector<double>(std::vector<double>(v.data(), v.data() + v.size()), Shape{v.size()});
}

inline Tensor<double> to_tensor(const Eigen::MatrixXd& m) {
  RowMatrix r = m;
  return from_vector<double>(std::vector<double>(r.data(), r.data() + r.size()), Shape{m.rows(), m.cols()});
}

// Checks that sigma is (numerically) symmetric and returns its symmetric part. The
// tolerance allows covariances computed in float by other code.
inline Eigen::MatrixXd symmetric_part(const Eigen::MatrixXd& s, const char* op, const char* name) {
  const double scale = s.cwiseAbs().maxCoeff();
  const double asym = (s - s.transpose()).cwiseAbs().maxCoeff();
  LATENT_CHECK(asym <= 1e-5 * scale, op, ": ", name, " must be a symmetric covariance matrix; max |", name, " - ",
               name, "^T| is ", asym, " for entries up to ", scale);
  return 0.5 * (s + s.transpose());
}

// The eigenvalues with those at or below D * eps * max |lambda| (rounding noise around a
// true 0, as numpy.linalg.matrix_rank's tolerance) set to 0.
inline Eigen::VectorXd clamp_noise(const Eigen::VectorXd& lambda) {
  const double cut = static_cast<double>(lambda.size()) * std::numeric_limits<double>::epsilon() *
                     lambda.cwiseAbs().maxCoeff();
  return lambda.unaryExpr([cut](double v) { return v > cut ? v : 0.0; });
}

// Tr((s1 s2)^(1/2)) via the symmetric M = s1^(1/2) s2 s1^(1/2); s1, s2 symmetric.
inline double trace_sqrt_product(const Eigen::MatrixXd& s1, const Eigen::MatrixXd& s2) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> e1(s1);
  LATENT_CHECK(e1.info() == Eigen::Success, "frechet_distance: the eigendecomposition of sigma1 did not converge");
  const Eigen::VectorXd root = clamp_noise(e1.eigenvalues()).cwiseSqrt();
  const Eigen::MatrixXd& v = e1.eigenvectors();
  const Eigen::MatrixXd sqrt_s1 = v * root.asDiagonal() * v.transpose();
  Eigen::MatrixXd m = sqrt_s1 * s2 * sqrt_s1;
  m = 0.5 * (m + m.transpose());
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> em(m, Eigen::EigenvaluesOnly);
  LATENT_CHECK(em.info() == Eigen::Success,
               "frechet_distance: the eigendecomposition of sigma1^(1/2) sigma2 sigma1^(1/2) did not converge");
  return clamp_noise(em.eigenvalues()).cwiseSqrt().sum();
}

// The distance on validated, symmetric double data.
inline double frechet_distance(const Eigen::VectorXd& mu1, const Eigen::MatrixXd& s1, const Eigen::VectorXd& mu2,
                               const Eigen::MatrixXd& s2) {
  const double mean_term = (mu1 - mu2).squaredNorm();
  return mean_term + s1.trace() + s2.trace() - 2.0 * trace_sqrt_product(s1, s2);
}

// Running mean and scatter sum_i (x_i - mean)(x_i - mean)^T of rows, merged block by
// block with Chan, Golub & LeVeque's pairwise update.
struct GaussianAccumulator {
  int64_t n = 0;
  Eigen::VectorXd mean;
  Eigen::MatrixXd scatter;

  int64_t dim() const { return n == 0 ? 0 : mean.size(); }

  void add_rows(const Eigen::MatrixXd& x) {
    const int64_t nb = x.rows();
    if (nb == 0) return;
    const Eigen::VectorXd mean_b = x.colwise().mean().transpose();
    const Eigen::MatrixXd centered = x.rowwise() - mean_b.transpose();
    Eigen::MatrixXd scatter_b = centered.transpose() * centered;
    if (n == 0) {
      n = nb;
      mean = mean_b;
      scatter = std::move(scatter_b);
      return;
    }
    const double na = static_cast<double>(n), nbd = static_cast<double>(nb), total = na + nbd;
    const Eigen::VectorXd delta = mean_b - mean;
    mean += delta * (nbd / total);
    scatter += scatter_b + (delta * delta.transpose()) * (na * nbd / total);
    n += nb;
  }

  Eigen::MatrixXd covariance() const { return scatter / static_cast<double>(n - 1); }

  GaussianStats stats() const { return {to_tensor(mean), to_tensor(covariance()), n}; }
};

// Rows per block when gaussian_stats accumulates a feature matrix.
inline constexpr int64_t kStatsBlockRows = 4096;

}  // namespace detail

// The Frechet distance between N(mu1, sigma1) and N(mu2, sigma2): mu (D), sigma (D, D)
// symmetric positive semi-definite, float or double (computed in double).
template <typename T>
double frechet_distance(const Tensor<T>& mu1, const Tensor<T>& sigma1, const Tensor<T>& mu2,
                        const Tensor<T>& sigma2) {
  static_assert(std::is_floating_point_v<T>, "frechet_distance: needs float or double tensors");
  LATENT_CHECK(mu1.defined() && sigma1.defined() && mu2.defined() && sigma2.defined(),
               "frechet_distance: an argument is an undefined tensor");
  LATENT_CHECK(mu1.dim() == 1 && mu1.size(0) >= 1, "frechet_distance: mu1 must be a non-empty 1-D mean (D), got shape ",
               mu1.shape());
  const int64_t d = mu1.size(0);
  LATENT_CHECK((mu2.dim() == 1 && mu2.size(0) == d), "frechet_distance: mu2 must have the shape of mu1 (", d,
               "), got shape ", mu2.shape());
  LATENT_CHECK((sigma1.dim() == 2 && sigma1.size(0) == d && sigma1.size(1) == d),
               "frechet_distance: sigma1 must be a square (", d, ", ", d, ") covariance matching mu1 (", d,
               "), got shape ", sigma1.shape());
  LATENT_CHECK((sigma2.dim() == 2 && sigma2.size(0) == d && sigma2.size(1) == d),
               "frechet_distance: sigma2 must be a square (", d, ", ", d, ") covariance matching mu2 (", d,
               "), got shape ", sigma2.shape());
  const Eigen::VectorXd m1 = detail::to_vector_xd(mu1), m2 = detail::to_vector_xd(mu2);
  const Eigen::MatrixXd s1_raw = detail::to_matrix(sigma1), s2_raw = detail::to_matrix(sigma2);
  LATENT_CHECK((m1.allFinite() && m2.allFinite()), "frechet_distance: the means have non-finite entries");
  LATENT_CHECK((s1_raw.allFinite() && s2_raw.allFinite()), "frechet_distance: the covariances have non-finite entries");
  const Eigen::MatrixXd s1 = detail::symmetric_part(s1_raw, "frechet_distance", "sigma1");
  const Eigen::MatrixXd s2 = detail::symmetric_part(s2_raw, "frechet_distance", "sigma2");
  return detail::frechet_distance(m1, s1, m2, s2);
}

inline double frechet_distance(const GaussianStats& a, const GaussianStats& b) {
  return frechet_distance(a.mu, a.sigma, b.mu, b.sigma);
}

// Mean and unbiased covariance (as numpy.cov(features, rowvar=False)) of N >= 2 rows of
// D features: features (N, D), float or double, any device.
template <typename T>
GaussianStats gaussian_stats(const Tensor<T>& features) {
  static_assert(std::is_floating_point_v<T>, "gaussian_stats: needs float or double features");
  LATENT_CHECK(features.defined(), "gaussian_stats: features is an undefined tensor");
  LATENT_CHECK(features.dim() == 2, "gaussian_stats: features must be (N, D), got shape ", features.shape());
  LATENT_CHECK(features.size(0) >= 2, "gaussian_stats: needs at least 2 samples for an unbiased covariance, got ",
               features.size(0), " (features of shape ", features.shape(), ")");
  LATENT_CHECK(features.size(1) >= 1, "gaussian_stats: features must have at least one column, got shape ",
               features.shape());
  NoGradGuard no_grad;
  detail::GaussianAccumulator acc;
  const int64_t n = features.size(0);
  for (int64_t start = 0; start < n; start += detail::kStatsBlockRows) {
    const int64_t len = std::min(detail::kStatsBlockRows, n - start);
    Eigen::MatrixXd block = detail::to_matrix(features.narrow(0, start, len));
    LATENT_CHECK(block.allFinite(), "gaussian_stats: features has non-finite entries in rows ", start, "..",
                 start + len - 1);
    acc.add_rows(block);
  }
  return acc.stats();
}

}  // namespace latent::metrics
