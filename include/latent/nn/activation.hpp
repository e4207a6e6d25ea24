// Activations as modules (ReLU, LeakyReLU, ELU, GELU, SiLU, Sigmoid, Tanh, Softplus,
// Softmax), plus Flatten/Unflatten, each a thin wrapper over the functional op.
// x: any shape -> y: same shape (Softmax along `dim`; Flatten/Unflatten reshape).
#pragma once
#include "module.hpp"

namespace latent::nn {

// A module whose forward is a fixed function of x, with PyTorch's repr.
template <typename T, typename F>
class ElementwiseModule : public UnaryModule<T> {
 public:
  ElementwiseModule(const char* name, F f, std::string repr = "")
      : UnaryModule<T>(name), f_(std::move(f)), repr_(std::move(repr)) {}
  Tensor<T> forward(const Tensor<T>& x) override { return f_(x); }
  std::string extra_repr() const override { return repr_; }

 private:
  F f_;
  std::string repr_;
};

template <typename T = float>
auto ReLU() {
  auto f = [](const Tensor<T>& x) { return relu(x); };
  return std::make_shared<ElementwiseModule<T, decltype(f)>>("ReLU", f);
}
template <typename T = float>
auto LeakyReLU(double negative_slope = 0.01) {
  auto f = [negative_slope](const Tensor<T>& x) { return leaky_relu(x, negative_slope); };
  return std::make_shared<ElementwiseModule<T, decltype(f)>>(
      "LeakyReLU", f, latent::detail::str_cat("negative_slope=", negative_slope));
}
template <typename T = float>
auto ELU(double alpha = 1.0) {
  auto f = [alpha](const Tensor<T>& x) { return elu(x, alpha); };
  return std::make_shared<ElementwiseModule<T, decltype(f)>>("ELU", f, latent::detail::str_cat("alpha=", alpha));
}
template <typename T = float>
auto GELU(const std::string& approximate = "none") {
  auto f = [approximate](const Tensor<T>& x) { return gelu(x, approximate); };
  return std::make_shared<ElementwiseModule<T, decltype(f)>>("GELU", f, "approximate='" + approximate + "'");
}
template <typename T = float>
auto SiLU() {
  auto f = [](const Tensor<T>& x) { return silu(x); };
  return std::make_shared<ElementwiseModule<T, decltype(f)>>("SiLU", f);
}
template <typename T = float>
auto Sigmoid() {
  auto f = [](const Tensor<T>& x) { return sigmoid(x); };
  return std::make_shared<ElementwiseModule<T, decltype(f)>>("Sigmoid", f);
}
template <typename T = float>
auto Tanh() {
  auto f = [](const Tensor<T>& x) { return tanh(x); };
  return std::make_shared<ElementwiseModule<T, decltype(f)>>("Tanh", f);
}
template <typename T = float>
auto Softplus(double beta = 1.0, double threshold = 20.0) {
  auto f = [beta, threshold](const Tensor<T>& x) { return softplus(x, beta, threshold); };
  return std::make_shared<ElementwiseModule<T, decltype(f)>>(
      "Softplus", f, latent::detail::str_cat("beta=", beta, ", threshold=", threshold));
}
template <typename T = float>
auto Softmax(int64_t dim) {
  auto f = [dim](const Tensor<T>& x) { return softmax(x, dim); };
  return std::make_shared<ElementwiseModule<T, decltype(f)>>("Softmax", f, latent::detail::str_cat("dim=", dim));
}
// (N, d1, d2, ...) -> (N, d1*d2*...) by default, as nn.Flatten.
template <typename T = float>
auto Flatten(int64_t start_dim = 1, int64_t end_dim = -1) {
  auto f = [start_dim, end_dim](const Tensor<T>& x) { return flatten(x, start_dim, end_dim); };
  return std::make_shared<ElementwiseModule<T, decltype(f)>>(
      "Flatten", f, latent::detail::str_cat("start_dim=", start_dim, ", end_dim=", end_dim));
}
// Splits dim into `sizes`, as nn.Unflatten: (N, 128*8*8) -> (N, 128, 8, 8).
template <typename T = float>
auto Unflatten(int64_t dim, std::vector<int64_t> sizes) {
  auto f = [dim, sizes](const Tensor<T>& x) {
    int d = wrap_dim(dim, x.dim(), "Unflatten");
    Shape s;
    for (int i = 0; i < d; ++i) s.push_back(x.shape()[i]);
    for (int64_t v : sizes) s.push_back(v);
    for (int i = d + 1; i < x.dim(); ++i) s.push_back(x.shape()[i]);
    return x.reshape(s);
  };
  return std::make_shared<ElementwiseModule<T, decltype(f)>>("Unflatten", f,
                                                             latent::detail::str_cat("dim=", dim, ", unflattened_size=", Shape(sizes)));
}

}  // namespace latent::nn
