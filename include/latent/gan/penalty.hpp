// Gradient penalties on a discriminator, usable on their own or through gan::Trainer.
// Both differentiate D's input gradient again (create_graph), so the penalty's backward
// reaches D's weights: the second-order autograd WGAN-GP is built on.
//
//   auto gp = gan::gradient_penalty([&](const TensorF& x) { return (*D)(x); }, real, fake);
//   (10.0 * gp).backward();
#pragma once
#include <functional>

#include "../latent.hpp"

namespace latent::gan {

namespace detail {

// Per-sample L2 norm of d(sum critic(x))/dx, with the graph kept for a second backward.
template <typename T, typename Critic>
Tensor<T> input_gradient_norms(Critic&& critic, const Tensor<T>& x) {
  auto out = critic(x);
  auto g = autograd::grad<T>({out.sum()}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
  return g.reshape({g.size(0), -1}).norm(2, {1});
}

template <typename T>
void check_batch(const char* op, const Tensor<T>& real, const Tensor<T>& fake) {
  LATENT_CHECK(real.dim() >= 1 && real.size(0) > 0, op, ": expected a non-empty batch, got shape ", real.shape());
  LATENT_CHECK(real.shape() == fake.shape(), op, ": real and fake batches must have the same shape, got ",
               real.shape(), " and ", fake.shape());
  LATENT_CHECK(real.device() == fake.device(), op, ": real is on ", real.device(), " but fake is on ",
               fake.device());
}

}  // namespace detail

// WGAN-GP (Gulrajani et al.): E[(||grad_x critic(x_hat)||_2 - target)^2] at
// x_hat = e * real + (1 - e) * fake, with one e per sample given in `mix` (shape (N), in
// [0, 1]). `fake` is detached: the penalty trains the critic only.
template <typename T, typename Critic>
Tensor<T> gradient_penalty(Critic&& critic, const Tensor<T>& real, const Tensor<T>& fake, const Tensor<T>& mix,
                           double target_norm = 1.0) {
  detail::check_batch("gradient_penalty", real, fake);
  LATENT_CHECK(mix.dim() == 1 && mix.size(0) == real.size(0), "gradient_penalty: mix must have shape (",
               real.size(0), "), one weight per sample, got ", mix.shape());
  std::vector<int64_t> per_sample(real.dim(), 1);
  per_sample[0] = real.size(0);
  auto e = mix.detach().reshape(Shape(per_sample));
  auto x_hat = (e * real.detach() + (1.0 - e) * fake.detach()).requires_grad_();
  auto norms = detail::input_gradient_norms(critic, x_hat);
  return (norms - target_norm).square().mean();
}

// The same with e ~ U[0, 1] drawn from `gen`.
template <typename T, typename Critic>
Tensor<T> gradient_penalty(Critic&& critic, const Tensor<T>& real, const Tensor<T>& fake,
                           Generator& gen = default_generator(), double target_norm = 1.0) {
  detail::check_batch("gradient_penalty", real, fake);
  auto mix = rand<T>({real.size(0)}, gen, real.device());
  return gradient_penalty(critic, real, fake, mix, target_norm);
}

// R1 (Mescheder et al.): E[||grad_x D(x)||^2] on real samples. Scale by gamma / 2 to use it.
template <typename T, typename Critic>
Tensor<T> r1_penalty(Critic&& critic, const Tensor<T>& real) {
  LATENT_CHECK(real.dim() >= 1 && real.size(0) > 0, "r1_penalty: expected a non-empty batch, got shape ",
               real.shape());
  auto x = real.detach().requires_grad_();
  auto out = critic(x);
  auto g = autograd::grad<T>({out.sum()}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
  return g.reshape({g.size(0), -1}).square().sum({1}).mean();
}

}  // namespace latent::gan
