// latent::metrics Inception Score (RECIPES R8): exp(E_x KL(p(y|x) || p(y))), averaged over
// splits of the samples, from a classifier's predictions (Inception-v3's are not available
// here: use a classifier trained on the dataset).
//
//   auto [mean, std] = metrics::inception_score(probs, /*splits=*/10);             // (N, C) rows sum to 1
//   auto [m2, s2] = metrics::inception_score_from_logits(classifier(x), 10);        // (N, C) logits
//
// The computation is torchmetrics' InceptionScore.compute (torchmetrics/image/inception.py):
//   the rows are cut into torch.chunk(splits) pieces: chunks of ceil(N / splits) rows, the
//     last one shorter, so there can be fewer than `splits` pieces (N = 10, splits = 6 gives
//     5 pieces of 2);
//   per piece: p_y = mean of its rows of p; kl_i = sum_c p_ic (log p_ic - log p_yc);
//     score = exp(mean_i kl_i);
//   result: mean of the scores and their unbiased standard deviation (torch.std), NaN when
//     there is a single piece (as torch).
// From logits, p = softmax and log p = log_softmax of the rows (as torchmetrics). One
// difference: torchmetrics first shuffles the rows with torch.randperm (unseeded); here the
// rows are taken in the order given, so shuffle them yourself if they are sorted by class.
// A term with p_ic = 0 counts as 0 (its limit; torch would give NaN for an exact 0 in
// probabilities). Computed in double; the score lies in [1, C].
#pragma once
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "../latent.hpp"
#include "frechet.hpp"

namespace latent::metrics {

namespace detail {

// The score from row-wise probabilities p and their logarithms logp (both (N, C)).
inline std::pair<double, double> inception_score_impl(const Eigen::MatrixXd& p, const Eigen::MatrixXd& logp,
                                                      int splits) {
  const int64_t n = p.rows(), c = p.cols();
  const int64_t chunk = (n + splits - 1) / splits;  // torch.chunk's piece size
  std::vector<double> scores;
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t len = std::min(chunk, n - start);
    const Eigen::VectorXd py = p.middleRows(start, len).colwise().mean().transpose();
    Eigen::VectorXd log_py(c);
    for (int64_t k = 0; k < c; ++k) log_py[k] = std::log(py[k]);
    double kl_sum = 0;
    for (int64_t i = start; i < start + len; ++i) {
      double kl = 0;
      for (int64_t k = 0; k < c; ++k)
        if (p(i, k) > 0) kl += p(i, k) * (logp(i, k) - log_py[k]);
      kl_sum += kl;
    }
    scores.push_back(std::exp(kl_sum / static_cast<double>(len)));
  }
  double mean = 0;
  for (double s : scores) mean += s;
  mean /= static_cast<double>(scores.size());
  if (scores.size() < 2) return {mean, std::numeric_limits<double>::quiet_NaN()};
  double ss = 0;
  for (double s : scores) ss += (s - mean) * (s - mean);
  return {mean, std::sqrt(ss / static_cast<double>(scores.size() - 1))};
}

template <typename T>
Eigen::MatrixXd checked_predictions(const Tensor<T>& x, int splits, const char* op, const char* name) {
  static_assert(std::is_floating_point_v<T>, "inception_score: needs float or double tensors");
  LATENT_CHECK(x.defined(), op, ": ", name, " is an undefined tensor");
  LATENT_CHECK((x.dim() == 2 && x.size(0) >= 1 && x.size(1) >= 1), op, ": ", name,
               " must be (N, C) with N >= 1 samples and C >= 1 classes, got shape ", x.shape());
  LATENT_CHECK(splits >= 1, op, ": splits must be positive, got ", splits);
  Eigen::MatrixXd m = to_matrix(x);
  LATENT_CHECK(m.allFinite(), op, ": ", name, " has non-finite entries");
  return m;
}

}  // namespace detail

// probs (N, C): rows of class probabilities (non-negative, summing to 1 within 1e-3).
// Returns {mean, std} of the score over the splits.
template <typename T>
std::pair<double, double> inception_score(const Tensor<T>& probs, int splits = 10) {
  Eigen::MatrixXd p = detail::checked_predictions(probs, splits, "inception_score", "probs");
  for (Eigen::Index i = 0; i < p.rows(); ++i) {
    const double lo = p.row(i).minCoeff(), s = p.row(i).sum();
    LATENT_CHECK((lo >= 0 && std::abs(s - 1) <= 1e-3), "inception_score: row ", i, " of probs (shape ", probs.shape(),
                 ") has minimum ", lo, " and sum ", s,
                 "; expected probabilities (non-negative, rows summing to 1); for logits use "
                 "inception_score_from_logits");
  }
  const Eigen::MatrixXd logp = p.array().log().matrix();
  return detail::inception_score_impl(p, logp, splits);
}

// logits (N, C): unnormalised class scores, turned into probabilities with a softmax
// over each row (as torchmetrics' InceptionScore does with its features).
template <typename T>
std::pair<double, double> inception_score_from_logits(const Tensor<T>& logits, int splits = 10) {
  Eigen::MatrixXd x = detail::checked_predictions(logits, splits, "inception_score_from_logits", "logits");
  Eigen::MatrixXd logp(x.rows(), x.cols()), p(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const double mx = x.row(i).maxCoeff();
    const Eigen::RowVectorXd shifted = x.row(i).array() - mx;
    const Eigen::RowVectorXd e = shifted.array().exp();
    const double sum = e.sum();
    p.row(i) = e / sum;
    logp.row(i) = shifted.array() - std::log(sum);
  }
  return detail::inception_score_impl(p, logp, splits);
}

}  // namespace latent::metrics
