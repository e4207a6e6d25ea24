// latent::metrics::ImageClassifier: the small CNN whose penultimate features stand in for
// Inception-v3 in classifier-FID and whose logits give the Inception Score (RECIPES R8:
// Inception weights cannot be loaded here, so the library trains its own extractor on the
// dataset; examples/train_classifier does that for MNIST and FashionMNIST).
//
//   metrics::ImageClassifier<float> clf;                        // 1x32x32 in [-1, 1], 10 classes
//   io::load_module(clf, "out/classifier_fashion/classifier.safetensors");
//   clf.eval();
//   metrics::FID<float> fid([&](const TensorF& x) { return clf.features(x); }, {.batch_size = 256});
//   auto [is, is_std] = metrics::inception_score_from_logits(clf(generated), 10);
//
// Three blocks [Conv 3x3 (padding 1), BatchNorm, ReLU, MaxPool 2] of 32, 64 and 128 channels
// take a 32x32 image to 128x4x4; Linear(2048, 128) + ReLU gives the features, and the head
// Dropout + Linear(128, classes) the logits. Parameter names: "features.N.*", "head.1.*".
// It is small on purpose: one epoch over 60,000 images takes minutes on two cores, and
// three reach above 90% on FashionMNIST (the accuracy is printed by train_classifier).
//
// FID values computed with these features are comparable only with each other (same
// classifier weights, same real split), never with Inception-FID figures from papers.
#pragma once
#include <memory>

#include "../nn.hpp"

namespace latent::metrics {

struct ImageClassifierOptions {
  int64_t in_channels = 1;
  int64_t image_size = 32;  // square inputs; a multiple of 8
  int64_t num_classes = 10;
  int64_t feature_dim = 128;
  double dropout = 0.3;
};

template <typename T = float>
class ImageClassifier : public nn::UnaryModule<T> {
 public:
  explicit ImageClassifier(ImageClassifierOptions options = {})
      : nn::UnaryModule<T>("ImageClassifier"), options_(options) {
    LATENT_CHECK((options.in_channels > 0 && options.num_classes > 1 && options.feature_dim > 0),
                 "ImageClassifier: in_channels, feature_dim must be positive and num_classes > 1, got ",
                 options.in_channels, ", ", options.feature_dim, ", ", options.num_classes);
    LATENT_CHECK((options.image_size >= 8 && options.image_size % 8 == 0),
                 "ImageClassifier: image_size must be a positive multiple of 8 (three 2x poolings), got ",
                 options.image_size);
    body_ = this->register_module("features", std::make_shared<nn::Sequential<T>>());
    int64_t channels = options.in_channels;
    for (int64_t width : {32, 64, 128}) {
      body_->push_back(std::make_shared<nn::Conv2d<T>>(channels, width, 3, 1, 1));
      body_->push_back(std::make_shared<nn::BatchNorm2d<T>>(width));
      body_->push_back(nn::ReLU<T>());
      body_->push_back(std::make_shared<nn::MaxPool2d<T>>(2));
      channels = width;
    }
    const int64_t side = options.image_size / 8;
    body_->push_back(nn::Flatten<T>());
    body_->push_back(std::make_shared<nn::Linear<T>>(channels * side * side, options.feature_dim));
    body_->push_back(nn::ReLU<T>());
    head_ = this->register_module("head", std::make_shared<nn::Sequential<T>>());
    head_->push_back(std::make_shared<nn::Dropout<T>>(options.dropout));
    head_->push_back(std::make_shared<nn::Linear<T>>(options.feature_dim, options.num_classes));
  }

  // (B, feature_dim): the penultimate activations, the FID features.
  Tensor<T> features(const Tensor<T>& x) {
    check_input(x, "ImageClassifier::features");
    return (*body_)(x);
  }

  // (B, num_classes) logits.
  Tensor<T> forward(const Tensor<T>& x) override {
    check_input(x, "ImageClassifier::forward");
    return (*head_)((*body_)(x));
  }

  // Features and logits from one pass of the body.
  std::pair<Tensor<T>, Tensor<T>> features_and_logits(const Tensor<T>& x) {
    Tensor<T> f = features(x);
    return {f, (*head_)(f)};
  }

  const ImageClassifierOptions& options() const { return options_; }

 private:
  void check_input(const Tensor<T>& x, const char* op) const {
    LATENT_CHECK(x.defined(), op, ": the input is an undefined tensor");
    LATENT_CHECK((x.dim() == 4 && x.size(1) == options_.in_channels && x.size(2) == options_.image_size &&
                  x.size(3) == options_.image_size),
                 op, ": expected images (B, ", options_.in_channels, ", ", options_.image_size, ", ",
                 options_.image_size, "), got shape ", x.shape(), "; resize them to the classifier's image_size first");
  }

  ImageClassifierOptions options_;
  std::shared_ptr<nn::Sequential<T>> body_, head_;
};

}  // namespace latent::metrics
