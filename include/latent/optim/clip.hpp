// Gradient clipping as torch.nn.utils: clip_grad_norm_ scales all gradients by
// max_norm / (total_norm + 1e-6) when the total norm exceeds max_norm and returns the
// total norm; clip_grad_value_ clamps each gradient element to [-clip, clip].
#pragma once
#include "optimizer.hpp"

namespace latent::optim {

template <typename T>
double clip_grad_norm_(const std::vector<Tensor<T>>& params, double max_norm, double norm_type = 2.0) {
  NoGradGuard no_grad;
  double total = 0;
  for (auto& p : params) {
    auto g = p.grad();
    if (!g.defined()) continue;
    if (std::isinf(norm_type)) total = std::max(total, static_cast<double>(g.abs().max().item()));
    else total += std::pow(static_cast<double>(norm(g, norm_type).item()), norm_type);
  }
  if (!std::isinf(norm_type)) total = std::pow(total, 1.0 / norm_type);
  double coef = max_norm / (total + 1e-6);
  if (coef < 1)
    for (auto& p : params)
      if (p.grad().defined()) p.grad().mul_(coef);
  return total;
}

template <typename T>
void clip_grad_value_(const std::vector<Tensor<T>>& params, double clip_value) {
  NoGradGuard no_grad;
  for (auto& p : params)
    if (p.grad().defined()) p.grad().clamp_(-clip_value, clip_value);
}

}  // namespace latent::optim
