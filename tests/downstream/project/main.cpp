// A downstream program: fits y = 2x + 1 with autograd to prove the installed headers work.
#include <latent/latent.hpp>
#include <iostream>

int main() {
  using namespace latent;
  auto x = linspace<float>(-1, 1, 32).unsqueeze(1);
  auto y = x * 2.0 + 1.0;
  auto w = zeros<float>({1, 1}).requires_grad_();
  auto b = zeros<float>({1}).requires_grad_();
  for (int step = 0; step < 200; ++step) {
    auto loss = (x.matmul(w) + b - y).square().mean();
    w.zero_grad();
    b.zero_grad();
    loss.backward();
    NoGradGuard no_grad;
    w.sub_(w.grad() * 0.5);
    b.sub_(b.grad() * 0.5);
  }
  std::cout << "w = " << w.item() << ", b = " << b.item() << "\n";
  return std::abs(w.item() - 2) < 1e-3 && std::abs(b.item() - 1) < 1e-3 ? 0 : 1;
}
