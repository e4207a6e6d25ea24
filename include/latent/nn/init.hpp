// nn::init, as torch.nn.init: in-place initialisers that draw from the Philox generator.
// Fan-in/fan-out follow PyTorch's _calculate_fan_in_and_fan_out: dim 1 is fan_in, dim 0
// fan_out, both times the receptive field (the product of dims 2..). Gains follow
// calculate_gain. All run without recording gradients.
#pragma once
#include <Eigen/QR>
#include <cmath>
#include <string>

#include "../latent.hpp"

namespace latent::nn::init {

struct Fans {
  int64_t fan_in, fan_out;
};

template <typename T>
Fans calculate_fans(const Tensor<T>& w) {
  LATENT_CHECK(w.dim() >= 2, "init: fan in and fan out can not be computed for a tensor with fewer than 2 "
               "dimensions (shape ", w.shape(), ")");
  int64_t receptive = 1;
  for (int i = 2; i < w.dim(); ++i) receptive *= w.shape()[i];
  return {w.shape()[1] * receptive, w.shape()[0] * receptive};
}

// torch.nn.init.calculate_gain
inline double calculate_gain(const std::string& nonlinearity, double param = 0.01) {
  if (nonlinearity == "linear" || nonlinearity == "conv1d" || nonlinearity == "conv2d" ||
      nonlinearity == "conv3d" || nonlinearity == "conv_transpose2d" || nonlinearity == "sigmoid")
    return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1 + param * param));
  if (nonlinearity == "selu") return 3.0 / 4;
  LATENT_CHECK(false, "calculate_gain: unsupported nonlinearity '", nonlinearity, "'");
  return 0;
}

namespace detail {
template <typename T>
Tensor<T>& assign(Tensor<T>& t, const Tensor<T>& values) {
  NoGradGuard no_grad;
  t.copy_(values);
  return t;
}
inline int64_t fan(const Fans& f, const std::string& mode) {
  LATENT_CHECK(mode == "fan_in" || mode == "fan_out", "init: mode must be 'fan_in' or 'fan_out', got '", mode, "'");
  return mode == "fan_in" ? f.fan_in : f.fan_out;
}
}  // namespace detail

template <typename T>
Tensor<T>& uniform_(Tensor<T>& t, double a = 0, double b = 1, Generator& gen = default_generator()) {
  return detail::assign(t, uniform<T>(t.shape(), a, b, gen, t.device()));
}
template <typename T>
Tensor<T>& normal_(Tensor<T>& t, double mean = 0, double std = 1, Generator& gen = default_generator()) {
  return detail::assign(t, normal<T>(t.shape(), mean, std, gen, t.device()));
}
template <typename T>
Tensor<T>& constant_(Tensor<T>& t, double value) {
  NoGradGuard no_grad;
  t.fill_(value);
  return t;
}
template <typename T> Tensor<T>& zeros_(Tensor<T>& t) { return constant_(t, 0.0); }
template <typename T> Tensor<T>& ones_(Tensor<T>& t) { return constant_(t, 1.0); }

template <typename T>
Tensor<T>& xavier_uniform_(Tensor<T>& t, double gain = 1, Generator& gen = default_generator()) {
  auto f = calculate_fans(t);
  double a = gain * std::sqrt(6.0 / static_cast<double>(f.fan_in + f.fan_out));
  return uniform_(t, -a, a, gen);
}
template <typename T>
Tensor<T>& xavier_normal_(Tensor<T>& t, double gain = 1, Generator& gen = default_generator()) {
  auto f = calculate_fans(t);
  return normal_(t, 0, gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out)), gen);
}
// kaiming_uniform_(w, a = sqrt(5)) is what Linear and Conv use by default: bound 1/sqrt(fan_in).
template <typename T>
Tensor<T>& kaiming_uniform_(Tensor<T>& t, double a = 0, const std::string& mode = "fan_in",
                            const std::string& nonlinearity = "leaky_relu", Generator& gen = default_generator()) {
  double std = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(detail::fan(calculate_fans(t), mode)));
  double bound = std::sqrt(3.0) * std;
  return uniform_(t, -bound, bound, gen);
}
template <typename T>
Tensor<T>& kaiming_normal_(Tensor<T>& t, double a = 0, const std::string& mode = "fan_in",
                           const std::string& nonlinearity = "leaky_relu", Generator& gen = default_generator()) {
  double std = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(detail::fan(calculate_fans(t), mode)));
  return normal_(t, 0, std, gen);
}

// A (semi-)orthogonal matrix from the QR decomposition of a normal matrix, signs fixed by
// R's diagonal (Saxe et al. 2013), reshaped to t's shape, times gain.
template <typename T>
Tensor<T>& orthogonal_(Tensor<T>& t, double gain = 1, Generator& gen = default_generator()) {
  LATENT_CHECK(t.dim() >= 2, "orthogonal_: only tensors with 2 or more dimensions are supported (shape ", t.shape(), ")");
  int64_t rows = t.shape()[0], cols = t.numel() / rows;
  auto flat = randn<double>({rows, cols}, gen);
  using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<Mat> a(flat.data(), rows, cols);
  Mat m = rows < cols ? Mat(a.transpose()) : Mat(a);
  Eigen::HouseholderQR<Mat> qr(m);
  Mat q = qr.householderQ() * Mat::Identity(m.rows(), m.cols());
  Mat r = qr.matrixQR().topRows(m.cols()).template triangularView<Eigen::Upper>();
  for (int64_t j = 0; j < m.cols(); ++j)
    if (r(j, j) < 0) q.col(j) *= -1;
  if (rows < cols) q.transposeInPlace();
  std::vector<T> values(rows * cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) values[i * cols + j] = static_cast<T>(gain * q(i, j));
  return detail::assign(t, from_vector<T>(values, t.shape(), kCPU));
}

}  // namespace latent::nn::init
