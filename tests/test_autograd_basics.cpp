// The engine itself: accumulation, retain_graph, grad(), create_graph, no-grad, errors.
#include "helpers.hpp"

using namespace latent;

TEST_CASE("autograd: gradients accumulate into leaves", "[autograd]") {
  auto x = tensor<double>({1, 2, 3}).requires_grad_();
  (x * x).sum().backward();
  REQUIRE(x.grad().to_vector() == std::vector<double>{2, 4, 6});
  (x * 3.0).sum().backward();
  REQUIRE(x.grad().to_vector() == std::vector<double>{5, 7, 9});
  x.zero_grad();
  REQUIRE_FALSE(x.grad().defined());
}

TEST_CASE("autograd: a tensor used twice sums its gradients", "[autograd]") {
  auto x = tensor<double>({2}).requires_grad_();
  auto y = x * x * x;  // 3x^2 = 12
  y.sum().backward();
  REQUIRE(x.grad().item() == Approx(12.0));
}

TEST_CASE("autograd: backward twice needs retain_graph", "[autograd][errors]") {
  auto x = tensor<double>({1, 2}).requires_grad_();
  auto y = (x.exp() * x).sum();
  y.backward(Tensor<double>(), /*retain_graph=*/true);
  y.backward();
  REQUIRE_THROWS_WITH(y.backward(), Catch::Contains("second time"));
}

TEST_CASE("autograd: non-scalar backward needs a gradient", "[autograd][errors]") {
  auto x = ones<double>({3}).requires_grad_();
  auto y = x * 2.0;
  REQUIRE_THROWS_WITH(y.backward(), Catch::Contains("only for scalar outputs") && Catch::Contains("[3]"));
  y.backward(tensor<double>({1, 2, 3}));
  REQUIRE(x.grad().to_vector() == std::vector<double>{2, 4, 6});
  auto z = zeros<double>({3});
  REQUIRE_THROWS_WITH(z.sum().backward(), Catch::Contains("does not require grad"));
}

TEST_CASE("autograd: grad() returns gradients without touching .grad", "[autograd]") {
  auto x = tensor<double>({1, 2}).requires_grad_();
  auto w = tensor<double>({3, 4}).requires_grad_();
  auto y = (x * w).sum();
  auto g = autograd::grad<double>({y}, {x});
  REQUIRE(g[0].to_vector() == std::vector<double>{3, 4});
  REQUIRE_FALSE(x.grad().defined());
  REQUIRE_FALSE(w.grad().defined());
}

TEST_CASE("autograd: create_graph gives differentiable gradients (gradient penalty)", "[autograd]") {
  // f(x) = sum(x^3); df/dx = 3x^2; penalty = sum((3x^2)^2) = 9 sum x^4; d/dx = 36 x^3
  auto x = tensor<double>({1, -2}).requires_grad_();
  auto y = x.pow(3.0).sum();
  auto g = autograd::grad<double>({y}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
  REQUIRE(g.requires_grad());
  auto penalty = (g * g).sum();
  penalty.backward();
  REQUIRE(x.grad().to_vector()[0] == Approx(36.0));
  REQUIRE(x.grad().to_vector()[1] == Approx(-288.0));
}

TEST_CASE("autograd: WGAN-GP style penalty through an MLP", "[autograd]") {
  Generator gen(3);
  auto w1 = randn<double>({2, 8}, gen).requires_grad_();
  auto w2 = randn<double>({8, 1}, gen).requires_grad_();
  auto critic = [&](const TensorD& x) { return x.matmul(w1).tanh().matmul(w2); };
  auto x_hat = randn<double>({4, 2}, gen).requires_grad_();
  auto out = critic(x_hat);
  auto g = autograd::grad<double>({out}, {x_hat}, {ones_like(out)}, std::nullopt, true)[0];
  auto gp = (g.norm(2, {1}) - 1.0).square().mean();
  gp.backward();
  REQUIRE(w1.grad().defined());
  REQUIRE(w2.grad().defined());
  // Compare with finite differences of the penalty as a function of w1.
  auto penalty_of = [&](const std::vector<TensorD>& in) {
    auto o = in[1].matmul(in[0]).tanh().matmul(w2.detach());
    auto gg = autograd::grad<double>({o}, {in[1]}, {ones_like(o)}, std::nullopt, true)[0];
    return (gg.norm(2, {1}) - 1.0).square().mean();
  };
  auto w = w1.detach().clone().requires_grad_();
  auto xh = x_hat.detach().clone().requires_grad_();
  auto r = autograd::gradcheck(penalty_of, {w, xh});
  INFO(r.message);
  REQUIRE(r.ok);
}

TEST_CASE("autograd: no-grad mode records nothing", "[autograd]") {
  auto x = ones<float>({2}).requires_grad_();
  {
    NoGradGuard no_grad;
    auto y = x * 2.0;
    REQUIRE_FALSE(y.requires_grad());
  }
  REQUIRE((x * 2.0).requires_grad());
  REQUIRE_FALSE(x.detach().requires_grad());
}

TEST_CASE("autograd: in-place change of a saved tensor is detected", "[autograd][errors]") {
  auto x = tensor<double>({1, 2}).requires_grad_();
  auto a = x * 2.0;
  auto b = a * a;  // saves a
  a.mul_(3.0);
  REQUIRE_THROWS_WITH(b.sum().backward(), Catch::Contains("modified by an inplace operation"));
  auto leaf = ones<double>({2}).requires_grad_();
  REQUIRE_THROWS_WITH(leaf.add_(1.0), Catch::Contains("leaf"));
}

TEST_CASE("autograd: in-place op on a non-leaf rebases its history", "[autograd]") {
  auto x = tensor<double>({1, 2}).requires_grad_();
  auto a = x * 2.0;  // mul_scalar saves nothing
  a.add_(x);         // a = 3x
  a.sum().backward();
  REQUIRE(x.grad().to_vector() == std::vector<double>{3, 3});
}

TEST_CASE("autograd: retain_grad-free intermediate and unused inputs", "[autograd][errors]") {
  auto x = ones<double>({2}).requires_grad_();
  auto unused = ones<double>({2}).requires_grad_();
  auto y = (x * 2.0).sum();
  REQUIRE_THROWS_WITH(autograd::grad<double>({y}, {unused}), Catch::Contains("not used"));
  auto y2 = (x * 2.0).sum();
  auto g = autograd::grad<double>({y2}, {unused}, {}, std::nullopt, false, /*allow_unused=*/true);
  REQUIRE_FALSE(g[0].defined());
}
