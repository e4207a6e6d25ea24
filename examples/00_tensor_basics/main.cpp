// 00_tensor_basics: tensors, broadcasting, views and autograd in a few lines, then a tiny
// network fitted to y = sin(x) by gradient descent. What ./scripts/demo.sh runs for now.
//   build/release/examples/tensor_basics
#include <latent/latent.hpp>
#include <iostream>

using namespace latent;

int main() {
  manual_seed(0);
  auto a = arange<float>(0, 6).reshape({2, 3});
  auto b = tensor<float>({10, 20, 30});
  std::cout << "a =\n" << a << "\na + b (broadcast) =\n" << a + b << "\na.t() (a view) =\n" << a.t() << "\n";

  // Autograd: d/dx sum(x^2 * w) = 2 x w.
  auto x = tensor<double>({1, 2, 3}).requires_grad_();
  auto w = tensor<double>({0.5, -1, 2});
  (x.square() * w).sum().backward();
  std::cout << "\ngrad of sum(x^2 * w) at x = [1, 2, 3]: " << x.grad() << "\n";

  // A 1-16-1 tanh network fitted to sin(x) on [-3, 3].
  auto xs = linspace<float>(-3, 3, 64).unsqueeze(1);
  auto ys = xs.sin();
  auto w1 = (randn<float>({1, 16}) * 0.5).requires_grad_();
  auto b1 = zeros<float>({16}).requires_grad_();
  auto w2 = (randn<float>({16, 1}) * 0.5).requires_grad_();
  auto b2 = zeros<float>({1}).requires_grad_();
  std::vector<TensorF> params{w1, b1, w2, b2};
  for (int step = 0; step <= 2000; ++step) {
    auto pred = (xs.matmul(w1) + b1).tanh().matmul(w2) + b2;
    auto loss = (pred - ys).square().mean();
    for (auto& p : params) p.zero_grad();
    loss.backward();
    NoGradGuard no_grad;
    for (auto& p : params) p.sub_(p.grad() * 0.1);
    if (step % 500 == 0) std::cout << "step " << step << "  mse " << loss.item() << "\n";
  }
  return 0;
}
