// latent::metrics::FID: the Frechet distance between Gaussians fitted to features of real
// and generated images (RECIPES R8), accumulated batch by batch like torchmetrics'
// FrechetInceptionDistance. Inception-v3 weights are not available here, so the feature
// extractor is yours: typically the penultimate layer of a classifier trained on the
// dataset (features (B, D), or (B, ...) which is flattened to (B, D)).
//
//   auto features = [&](const TensorF& x) { return classifier_body->forward(x); };   // (B, D)
//   metrics::FID<float> fid(features, {.batch_size = 256});
//   fid.update(test_images, /*real=*/true);          // a held-out split, not the training set
//   fid.update(G->forward(z), /*real=*/false);
//   double d = fid.compute();
//   fid.reset_fake();                                 // keep the real statistics for the next epoch
//
// Memory is O(D^2), not O(N): per kind (real, fake) only the count, the mean and the
// scatter matrix sum (x - mean)(x - mean)^T are kept, in double, merged batch by batch
// with Chan et al.'s pairwise update (torchmetrics keeps sum x and sum x x^T instead,
// which loses precision to cancellation when the mean is large against the spread; both
// give the same statistics in exact arithmetic). The result does not depend on how the
// images are split into update() calls or chunks beyond rounding.
//
// update() runs the extractor under NoGradGuard on chunks of at most options.batch_size
// images (so a big tensor of images does not need one huge forward pass); put modules
// with dropout or batch norm in eval mode yourself. A chunk whose features are non-finite
// or of the wrong shape throws, and then nothing of that update() call has been counted.
#pragma once
#include <functional>
#include <utility>

#include "frechet.hpp"

namespace latent::metrics {

struct FIDOptions {
  int64_t batch_size = 64;  // images per call of the feature extractor
};

template <typename T = float>
class FID {
 public:
  using FeatureExtractor = std::function<Tensor<T>(const Tensor<T>&)>;

  explicit FID(FeatureExtractor extractor, FIDOptions options = {})
      : extractor_(std::move(extractor)), options_(options) {
    LATENT_CHECK(static_cast<bool>(extractor_), "FID: the feature extractor is empty");
    LATENT_CHECK(options_.batch_size > 0, "FID: options.batch_size must be positive, got ", options_.batch_size);
  }

  // Adds a batch of images (N, ...) to the real or to the fake statistics. N = 0 does
  // nothing.
  void update(const Tensor<T>& images, bool real) {
    const char* op = real ? "FID::update (real)" : "FID::update (fake)";
    LATENT_CHECK(images.defined(), op, ": images is an undefined tensor");
    LATENT_CHECK(images.dim() >= 1, op, ": images must have a batch dimension, got shape ", images.shape());
    const int64_t n = images.size(0);
    if (n == 0) return;
    detail::GaussianAccumulator acc = real ? real_ : fake_;  // committed only when every chunk succeeded
    int64_t dim = feature_dim();
    NoGradGuard no_grad;
    for (int64_t start = 0; start < n; start += options_.batch_size) {
      const int64_t len = std::min(options_.batch_size, n - start);
      Tensor<T> f = extractor_(images.narrow(0, start, len));
      LATENT_CHECK(f.defined(), op, ": the feature extractor returned an undefined tensor");
      LATENT_CHECK((f.dim() >= 2 && f.size(0) == len && f.numel() > 0), op,
                   ": the feature extractor must return (B, D) features (or (B, ...), flattened) for a chunk of B = ",
                   len, " images of shape ", images.narrow(0, start, len).shape(), ", got shape ", f.shape());
      const int64_t d = f.numel() / len;
      LATENT_CHECK((dim == 0 || d == dim), op, ": the feature extractor returned ", d,
                   " features per image (shape ", f.shape(), ") but earlier updates had ", dim);
      dim = d;
      Eigen::MatrixXd x = detail::to_matrix(f.reshape(Shape{len, d}));
      LATENT_CHECK(x.allFinite(), op, ": the features of images ", start, "..", start + len - 1,
                   " have non-finite entries");
      acc.add_rows(x);
    }
    (real ? real_ : fake_) = std::move(acc);
  }

  // The Frechet distance between the real and the fake statistics (>= 2 samples each).
  double compute() const {
    LATENT_CHECK((real_.n >= 2 && fake_.n >= 2), "FID::compute: needs at least 2 real and 2 fake samples, has ",
                 real_.n, " real and ", fake_.n, " fake");
    return detail::frechet_distance(real_.mean, real_.covariance(), fake_.mean, fake_.covariance());
  }

  // Forgets everything (real and fake).
  void reset() {
    real_ = {};
    fake_ = {};
  }
  // Forgets the fake statistics only (torchmetrics' reset_real_features=False): compare
  // the next generator against the same real statistics without extracting them again.
  void reset_fake() { fake_ = {}; }

  GaussianStats real_stats() const { return stats_of(real_, "FID::real_stats"); }
  GaussianStats fake_stats() const { return stats_of(fake_, "FID::fake_stats"); }
  int64_t real_count() const { return real_.n; }
  int64_t fake_count() const { return fake_.n; }
  // Features per image; 0 before the first update (and after reset()).
  int64_t feature_dim() const { return real_.n > 0 ? real_.dim() : fake_.dim(); }
  const FIDOptions& options() const { return options_; }

 private:
  static GaussianStats stats_of(const detail::GaussianAccumulator& acc, const char* op) {
    LATENT_CHECK(acc.n >= 2, op, ": needs at least 2 samples for an unbiased covariance, has ", acc.n);
    return acc.stats();
  }

  FeatureExtractor extractor_;
  FIDOptions options_;
  detail::GaussianAccumulator real_, fake_;
};

}  // namespace latent::metrics
