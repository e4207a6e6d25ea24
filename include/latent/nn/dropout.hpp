// Dropout layers: Dropout (element-wise) and Dropout2d (whole channels), thin modules over
// nn/functional/dropout.hpp that drop only in training mode (module.train()), as PyTorch's.
// x: any shape (Dropout2d: (N, C, H, W) or (N, C, L)) -> y: same shape.
#pragma once
#include <string>

#include "functional/dropout.hpp"
#include "module.hpp"

namespace latent::nn {


template <typename T = float>
class Dropout : public UnaryModule<T> {
 public:
  explicit Dropout(double p = 0.5) : UnaryModule<T>("Dropout"), p(p) {
    functional::detail::check_dropout_p("Dropout", p);
  }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::dropout(x, p, this->is_training()); }
  std::string extra_repr() const override { return "p=" + detail::py_float(p) + ", inplace=False"; }

  double p;
};

template <typename T = float>
class Dropout2d : public UnaryModule<T> {
 public:
  explicit Dropout2d(double p = 0.5) : UnaryModule<T>("Dropout2d"), p(p) {
    functional::detail::check_dropout_p("Dropout2d", p);
  }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::dropout2d(x, p, this->is_training()); }
  std::string extra_repr() const override { return "p=" + detail::py_float(p) + ", inplace=False"; }

  double p;
};

}  // namespace latent::nn
