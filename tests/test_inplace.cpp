// In-place ops: values (with broadcasting, on non-contiguous targets), the version
// counter, and gradients through in-place ops on non-leaves (against the out-of-place
// equivalent, and by gradcheck/gradgradcheck).
#include "helpers.hpp"

#include <functional>

using namespace latent;
using latent::testing::check_grads;
using latent::testing::leaf;
using V = std::vector<TensorD>;

namespace {
std::vector<float> vec(const TensorF& t) { return t.to_vector(); }
}  // namespace

TEST_CASE("inplace: values of the arithmetic ops", "[inplace]") {
  auto a = tensor<float>({1, 2, 3});
  a.add_(tensor<float>({10, 20, 30}));
  CHECK(vec(a) == std::vector<float>{11, 22, 33});
  a.add_(tensor<float>({1, 1, 1}), 2.0);
  CHECK(vec(a) == std::vector<float>{13, 24, 35});
  a.sub_(tensor<float>({3, 4, 5}));
  CHECK(vec(a) == std::vector<float>{10, 20, 30});
  a.mul_(tensor<float>({2, 0.5f, -1}));
  CHECK(vec(a) == std::vector<float>{20, 10, -30});
  a.div_(tensor<float>({4, 5, 6}));
  CHECK(vec(a) == std::vector<float>{5, 2, -5});
  a.add_(1.5);
  CHECK(vec(a) == std::vector<float>{6.5f, 3.5f, -3.5f});
  a.mul_(2.0);
  CHECK(vec(a) == std::vector<float>{13, 7, -7});
  // Handles share: the in-place result is visible through every copy of the handle.
  auto b = a;
  b.add_(-3.0);
  CHECK(vec(a) == std::vector<float>{10, 4, -10});
}

TEST_CASE("inplace: broadcasting the other operand", "[inplace]") {
  auto m = zeros<float>({2, 3});
  m.add_(tensor<float>({1, 2, 3}));  // row
  CHECK(vec(m) == std::vector<float>{1, 2, 3, 1, 2, 3});
  m.mul_(tensor<float>({10, 100}, {2, 1}));  // column
  CHECK(vec(m) == std::vector<float>{10, 20, 30, 100, 200, 300});
  m.sub_(scalar_tensor<float>(10));  // 0-dim
  CHECK(vec(m) == std::vector<float>{0, 10, 20, 90, 190, 290});
  m.div_(tensor<float>({10}));  // (1,)
  CHECK(vec(m) == std::vector<float>{0, 1, 2, 9, 19, 29});
  m.add_(tensor<float>({1, 2}, {2, 1}), -1.0);
  CHECK(vec(m) == std::vector<float>{-1, 0, 1, 7, 17, 27});
}

TEST_CASE("inplace: copy_ with broadcasting", "[inplace]") {
  auto m = zeros<float>({2, 3});
  m.copy_(tensor<float>({7, 8, 9}));
  CHECK(vec(m) == std::vector<float>{7, 8, 9, 7, 8, 9});
  m.copy_(tensor<float>({1, 2}, {2, 1}));
  CHECK(vec(m) == std::vector<float>{1, 1, 1, 2, 2, 2});
  m.copy_(scalar_tensor<float>(4));
  CHECK(vec(m) == std::vector<float>(6, 4.0f));
  m.copy_(tensor<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  CHECK(vec(m) == std::vector<float>{1, 2, 3, 4, 5, 6});
  // Into a transposed view, and from a transposed view.
  auto n = zeros<float>({3, 2});
  n.t().copy_(m);
  CHECK(vec(n) == std::vector<float>{1, 4, 2, 5, 3, 6});
  auto k = zeros<float>({2, 3});
  k.copy_(n.t());
  CHECK(vec(k) == std::vector<float>{1, 2, 3, 4, 5, 6});
  // copy_ does not alias the source.
  auto src = tensor<float>({1, 2, 3});
  auto dst = zeros<float>({3});
  dst.copy_(src);
  src.fill_(0);
  CHECK(vec(dst) == std::vector<float>{1, 2, 3});
}

TEST_CASE("inplace: fill_, zero_, clamp_, relu_", "[inplace]") {
  auto a = tensor<float>({-2, -0.5f, 0, 0.5f, 2, 3});
  auto c = a.clone();
  c.clamp_(-1, 1);
  CHECK(vec(c) == std::vector<float>{-1, -0.5f, 0, 0.5f, 1, 1});
  auto r = a.clone();
  r.relu_();
  CHECK(vec(r) == std::vector<float>{0, 0, 0, 0.5f, 2, 3});
  auto f = a.clone();
  f.fill_(2.5);
  CHECK(vec(f) == std::vector<float>(6, 2.5f));
  f.zero_();
  CHECK(vec(f) == std::vector<float>(6, 0.0f));
  // On non-contiguous views: only the viewed elements change.
  auto m = tensor<float>({1, -2, 3, -4, 5, -6}, {2, 3});
  m.t().select(0, 1).fill_(9);  // column 1
  CHECK(vec(m) == std::vector<float>{1, 9, 3, -4, 9, -6});
  m.slice(1, 0, 3, 2).relu_();  // columns 0 and 2
  CHECK(vec(m) == std::vector<float>{1, 9, 3, 0, 9, 0});
  m.select(1, 1).clamp_(0, 4);
  CHECK(vec(m) == std::vector<float>{1, 4, 3, 0, 4, 0});
  m.t().zero_();
  CHECK(vec(m) == std::vector<float>(6, 0.0f));
  auto e = zeros<float>({0, 3});
  e.fill_(1);  // empty: nothing to do
  CHECK(e.numel() == 0);
}

TEST_CASE("inplace: the arithmetic ops on a non-contiguous target", "[inplace]") {
  auto m = tensor<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  auto t = m.t();  // (3, 2)
  t.add_(tensor<float>({10, 20}));
  CHECK(vec(m) == std::vector<float>{11, 12, 13, 24, 25, 26});
  t.mul_(2.0);
  CHECK(vec(m) == std::vector<float>{22, 24, 26, 48, 50, 52});
  m.slice(1, 1, 3).sub_(tensor<float>({1, 2}, {2, 1}));
  CHECK(vec(m) == std::vector<float>{22, 23, 25, 48, 48, 50});
  m.narrow(0, 1, 1).div_(tensor<float>({2}));
  CHECK(vec(m) == std::vector<float>{22, 23, 25, 24, 24, 25});
  m[0].add_(-1.0);
  CHECK(vec(m) == std::vector<float>{21, 22, 24, 24, 24, 25});
}

TEST_CASE("inplace: version counter", "[inplace]") {
  auto a = zeros<double>({3});
  auto other = ones<double>({3});
  REQUIRE(a.version() == 0);
  uint64_t v = 0;
  auto step = [&](const char* what, const std::function<void()>& op) {
    INFO(what);
    op();
    CHECK(a.version() == ++v);
  };
  step("add_", [&] { a.add_(other); });
  step("add_ alpha", [&] { a.add_(other, 0.5); });
  step("sub_", [&] { a.sub_(other); });
  step("mul_", [&] { a.mul_(other); });
  step("div_", [&] { a.div_(other); });
  step("add_ scalar", [&] { a.add_(1.0); });
  step("mul_ scalar", [&] { a.mul_(2.0); });
  step("copy_", [&] { a.copy_(other); });
  step("fill_", [&] { a.fill_(3); });
  step("zero_", [&] { a.zero_(); });
  step("clamp_", [&] { a.clamp_(-1, 1); });
  step("relu_", [&] { a.relu_(); });
  step("through a view", [&] { a.narrow(0, 1, 2).add_(1.0); });
  step("through a detached handle", [&] { a.detach().mul_(1.0); });
  // Views share the counter; out-of-place ops and clones leave it alone.
  auto view = a.reshape({3, 1});
  CHECK(view.version() == a.version());
  auto sum = a + other;
  auto copy = a.clone();
  copy.add_(1.0);
  CHECK(a.version() == v);
  CHECK(sum.version() == 0);
  CHECK(copy.version() == 1);
  CHECK(other.version() == 0);  // read-only operands are not bumped
  // An in-place op that records a graph bumps the counter once as well.
  auto x = tensor<double>({1, 2, 3}).requires_grad_();
  auto y = x * 2.0;
  auto v0 = y.version();
  y.mul_(x);
  CHECK(y.version() == v0 + 1);
  y.add_(1.0);
  CHECK(y.version() == v0 + 2);
  CHECK(x.version() == 0);
}

// ------------------------------------------------------------------ gradients
namespace {
using InplaceFn = std::function<void(TensorD& a, const TensorD& w)>;
using OutOfPlaceFn = std::function<TensorD(const TensorD& a, const TensorD& w)>;

// Runs loss = sum(g(f(x * 1.5 + 0.1, w)) * c) both with an in-place f applied to the
// non-leaf and with its out-of-place equivalent, and compares x.grad and w.grad.
void compare_with_out_of_place(const InplaceFn& inplace, const OutOfPlaceFn& out_of_place, bool w_matters = true) {
  auto x0 = leaf({2, 3}, 1).detach().clone();
  auto w0 = leaf({2, 3}, 2, 0.5, 1.5).detach().clone();
  auto c = leaf({2, 3}, 3).detach();
  std::vector<TensorD> grads[2];
  TensorD values[2];
  for (int mode = 0; mode < 2; ++mode) {
    auto x = x0.clone().requires_grad_();
    auto w = w0.clone().requires_grad_();
    auto a = x * 1.5 + 0.1;  // a non-leaf
    TensorD y;
    if (mode == 0) {
      inplace(a, w);
      y = a;
    } else {
      y = out_of_place(a, w);
    }
    auto loss = (y.tanh() * c).sum();
    loss.backward();
    values[mode] = y.detach();
    // An undefined gradient is a zero one (fill_ cuts x out of the graph).
    grads[mode] = {x.grad().defined() ? x.grad() : zeros_like(x0), w.grad()};
  }
  LATENT_REQUIRE_CLOSE(values[0], values[1], 1e-12, 1e-12);
  REQUIRE(grads[0][0].defined());
  LATENT_REQUIRE_CLOSE(grads[0][0], grads[1][0], 1e-12, 1e-12);
  REQUIRE(grads[0][1].defined() == grads[1][1].defined());
  if (w_matters) {
    REQUIRE(grads[0][1].defined());
    LATENT_REQUIRE_CLOSE(grads[0][1], grads[1][1], 1e-12, 1e-12);
  }
}
}  // namespace

TEST_CASE("inplace: gradients through in-place ops on a non-leaf match out-of-place", "[inplace][autograd]") {
  SECTION("add_") { compare_with_out_of_place([](TensorD& a, const TensorD& w) { a.add_(w); },
                                              [](const TensorD& a, const TensorD& w) { return a + w; }); }
  SECTION("add_ alpha") { compare_with_out_of_place([](TensorD& a, const TensorD& w) { a.add_(w, -2.5); },
                                                    [](const TensorD& a, const TensorD& w) { return a + w * -2.5; }); }
  SECTION("sub_") { compare_with_out_of_place([](TensorD& a, const TensorD& w) { a.sub_(w); },
                                              [](const TensorD& a, const TensorD& w) { return a - w; }); }
  SECTION("mul_") { compare_with_out_of_place([](TensorD& a, const TensorD& w) { a.mul_(w); },
                                              [](const TensorD& a, const TensorD& w) { return a * w; }); }
  SECTION("div_") { compare_with_out_of_place([](TensorD& a, const TensorD& w) { a.div_(w); },
                                              [](const TensorD& a, const TensorD& w) { return a / w; }); }
  SECTION("mul_ broadcast") {
    compare_with_out_of_place([](TensorD& a, const TensorD& w) { a.mul_(w[0]); },
                              [](const TensorD& a, const TensorD& w) { return a * w[0]; });
  }
  SECTION("add_ scalar") { compare_with_out_of_place([](TensorD& a, const TensorD&) { a.add_(2.0); },
                                                     [](const TensorD& a, const TensorD&) { return a + 2.0; }, false); }
  SECTION("mul_ scalar") { compare_with_out_of_place([](TensorD& a, const TensorD&) { a.mul_(-3.0); },
                                                     [](const TensorD& a, const TensorD&) { return a * -3.0; }, false); }
  SECTION("copy_") { compare_with_out_of_place([](TensorD& a, const TensorD& w) { a.copy_(w.square()); },
                                               [](const TensorD&, const TensorD& w) { return w.square(); }); }
  SECTION("copy_ broadcast") {
    compare_with_out_of_place([](TensorD& a, const TensorD& w) { a.copy_(w[1]); },
                              [](const TensorD& a, const TensorD& w) { return a * 0.0 + w[1]; });
  }
  SECTION("clamp_") { compare_with_out_of_place([](TensorD& a, const TensorD&) { a.clamp_(-1, 1); },
                                                [](const TensorD& a, const TensorD&) { return a.clamp(-1, 1); }, false); }
  SECTION("relu_") { compare_with_out_of_place([](TensorD& a, const TensorD&) { a.relu_(); },
                                               [](const TensorD& a, const TensorD&) { return a.relu(); }, false); }
  SECTION("fill_ cuts the history") {
    compare_with_out_of_place([](TensorD& a, const TensorD& w) { a.fill_(0.5); a.mul_(w); },
                              [](const TensorD& a, const TensorD& w) { return a * 0.0 + w * 0.5; });
  }
  SECTION("a chain of in-place ops") {
    compare_with_out_of_place(
        [](TensorD& a, const TensorD& w) { a.mul_(w).add_(w, 0.5).div_(w).sub_(w).clamp_(-2, 2).mul_(w); },
        [](const TensorD& a, const TensorD& w) { return ((a * w + w * 0.5) / w - w).clamp(-2, 2) * w; });
  }
}

TEST_CASE("inplace: an in-place op on a plain tensor with a differentiable operand", "[inplace][autograd]") {
  auto w = tensor<double>({1, 2, 3}).requires_grad_();
  auto a = tensor<double>({4, 5, 6});  // a leaf that does not require grad
  a.mul_(w);
  REQUIRE(a.requires_grad());
  REQUIRE_FALSE(a.is_leaf());
  a.add_(w);
  (a * a).sum().backward();  // a = w * a0 + w, d/dw sum(a^2) = 2 a (a0 + 1)
  REQUIRE(w.grad().to_vector() == std::vector<double>{2 * 5 * 5, 2 * 12 * 6, 2 * 21 * 7});
}

TEST_CASE("inplace: gradcheck and gradgradcheck through in-place ops", "[inplace][gradcheck]") {
  check_grads([](const V& x) { auto a = x[0].exp(); a.mul_(x[1]); return a; }, {leaf({2, 3}, 10), leaf({3}, 11)});
  check_grads([](const V& x) { auto a = x[0] * x[0]; a.div_(x[1]); a.add_(x[0], 0.5); return a; },
              {leaf({2, 2}, 12), leaf({2, 2}, 13, 0.5, 2.0)});
  check_grads([](const V& x) { auto a = x[0].sin(); a.sub_(x[1]); a.mul_(x[1]); return a; },
              {leaf({3}, 14), leaf({3}, 15)});
  check_grads([](const V& x) { auto a = x[0] * 1.0; a.clamp_(-0.5, 0.5); a.mul_(x[0]); return a; },
              {tensor<double>({-1.2, -0.3, 0.2, 0.9}).requires_grad_()});
  check_grads([](const V& x) { auto a = x[0] * 2.0; a.copy_(x[1].exp()); a.mul_(x[0]); return a; },
              {leaf({2, 2}, 16), leaf({2}, 17)});
  check_grads([](const V& x) { auto a = zeros<double>({3}); a.add_(x[0]); a.mul_(x[0]); a.mul_(3.0); return a; },
              {leaf({3}, 18)});
}
