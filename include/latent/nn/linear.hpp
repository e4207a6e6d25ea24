// nn::Linear (y = x W^T + b) and nn::Identity, with PyTorch's default initialisation:
// W ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform_ with a = sqrt(5)), b likewise.
// x: (..., in_features) -> y: (..., out_features)
#pragma once
#include "init.hpp"
#include "module.hpp"

namespace latent::nn {

template <typename T = float>
class Linear : public UnaryModule<T> {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Device device = kCPU)
      : UnaryModule<T>("Linear"), in_features(in_features), out_features(out_features) {
    LATENT_CHECK(in_features > 0 && out_features > 0, "Linear: in_features and out_features must be positive, got ",
                 in_features, " and ", out_features);
    weight = this->register_parameter("weight", empty<T>({out_features, in_features}, device));
    if (bias) this->bias = this->register_parameter("bias", empty<T>({out_features}, device));
    reset_parameters();
  }
  void reset_parameters() {
    init::kaiming_uniform_(weight, std::sqrt(5.0));
    if (bias.defined()) {
      double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
      init::uniform_(bias, -bound, bound);
    }
  }
  Tensor<T> forward(const Tensor<T>& x) override { return linear(x, weight, bias); }
  std::string extra_repr() const override {
    return latent::detail::str_cat("in_features=", in_features, ", out_features=", out_features,
                           ", bias=", detail::py_bool(bias.defined()));
  }

  int64_t in_features, out_features;
  Tensor<T> weight, bias;
};

template <typename T = float>
class Identity : public UnaryModule<T> {
 public:
  Identity() : UnaryModule<T>("Identity") {}
  Tensor<T> forward(const Tensor<T>& x) override { return x; }
};

}  // namespace latent::nn
