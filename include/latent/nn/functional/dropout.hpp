// Dropout as functions, as torch.nn.functional: dropout (element-wise) and dropout2d (whole
// channels). In training each element (channel) is zeroed with probability p and the rest
// scaled by 1 / (1 - p), so the expected value is unchanged; in eval both are the identity.
// The mask is a constant of the graph: y = x * mask, whose gradients of every order are
// those of mul. Masks come from the given Philox generator (default: the global one), so
// a seeded generator reproduces them; they cannot match PyTorch's bit for bit.
#pragma once
#include "../../latent.hpp"

namespace latent::nn::functional {

namespace detail {
inline void check_dropout_p(const char* op, double p) {
  LATENT_CHECK(p >= 0 && p <= 1, op, ": dropout probability has to be between 0 and 1, but got ", p);
}

// 1 / (1 - p) with probability 1 - p, else 0.
// On CUDA the same uniforms are drawn on the device (Philox gives both devices the same
// numbers), so a seed gives the same mask on either.
template <typename T>
Tensor<T> dropout_mask(const Shape& shape, double p, Generator& gen, Device device) {
  const T keep = static_cast<T>(1.0 - p), scale = static_cast<T>(1.0 / (1.0 - p));
  if (device.is_cuda()) {
    NoGradGuard no_grad;
    return mul(lt(rand<T>(shape, gen, device), static_cast<double>(keep)), static_cast<double>(scale));
  }
  auto mask = rand<T>(shape, gen, kCPU);
  T* m = mask.data();
  const int64_t n = mask.numel();
  parallel_for(n, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) m[i] = m[i] < keep ? scale : T(0);
  });
  return device.is_cpu() ? mask : mask.to(device);
}
}  // namespace detail

// x with each element zeroed with probability p (scaled by 1 / (1 - p) otherwise) when
// training; x itself when not. p = 1 gives zeros (and zero gradients).
template <typename T>
Tensor<T> dropout(const Tensor<T>& x, double p = 0.5, bool training = true, Generator& gen = default_generator()) {
  latent::detail::check_defined("dropout", x);
  detail::check_dropout_p("dropout", p);
  if (!training || p == 0) return x;
  if (p == 1) return mul(x, 0.0);
  return mul(x, detail::dropout_mask<T>(x.shape(), p, gen, x.device()));
}

// Channel dropout of x (N, C, H, W), or (N, C, L) as PyTorch reads 3-D inputs: each (n, c)
// plane is zeroed as a whole with probability p, the others scaled by 1 / (1 - p).
template <typename T>
Tensor<T> dropout2d(const Tensor<T>& x, double p = 0.5, bool training = true, Generator& gen = default_generator()) {
  latent::detail::check_defined("dropout2d", x);
  detail::check_dropout_p("dropout2d", p);
  LATENT_CHECK(x.dim() == 3 || x.dim() == 4, "dropout2d: expected a 4-D (N, C, H, W) or 3-D (N, C, L) input, got "
               "shape ", x.shape(), "; use dropout for element-wise dropout");
  if (!training || p == 0) return x;
  if (p == 1) return mul(x, 0.0);
  Shape mask_shape{x.shape()[0], x.shape()[1]};
  for (int i = 2; i < x.dim(); ++i) mask_shape.push_back(1);
  return mul(x, detail::dropout_mask<T>(mask_shape, p, gen, x.device()));
}

}  // namespace latent::nn::functional
