// Normalisation, dropout and embedding (nn/functional/{norm,dropout,embedding}.hpp and the
// modules in nn/{norm,dropout,embedding}.hpp): first and second derivatives in double
// against finite differences, the fused kernels against a composition of core ops,
// running-statistic updates against hand computation, dropout's statistics, module
// defaults and reprs as PyTorch's, and error messages. Agreement with PyTorch's values and
// gradients is in test_parity_norm.cpp.
#include <latent/nn/dropout.hpp>
#include <latent/nn/embedding.hpp>
#include <latent/nn/norm.hpp>

#include <cmath>

#include "helpers.hpp"

using namespace latent;
using latent::testing::check_grads;
using latent::testing::leaf;
namespace F = latent::nn::functional;
using Catch::Contains;
using V = std::vector<TensorD>;

#define FN(...) [&](const V& x) -> TensorD { return __VA_ARGS__; }

namespace {

using latent::testing::idx;

// (x - mean) / sqrt(var + eps) over `dims` of `view` (a reshape of x), in core ops only:
// the reference the fused kernels are checked against.
template <typename T>
Tensor<T> reference_normalize(const Tensor<T>& x, const Shape& view, const std::vector<int64_t>& dims, double eps) {
  auto v = x.reshape(view);
  auto centered = v - v.mean(dims, true);
  return (centered / (centered.square().mean(dims, true) + eps).sqrt()).reshape(x.shape());
}

template <typename T>
Tensor<T> channel_view(const Tensor<T>& t, int rank) {
  Shape s{1, t.numel()};
  for (int i = 2; i < rank; ++i) s.push_back(1);
  return t.reshape(s);
}

// Gradients of sum(y * u) w.r.t. `inputs`, once by the fused first-order kernels and once
// under create_graph (the differentiable formula), which must agree.
template <typename T>
void require_backward_paths_agree(const std::function<Tensor<T>()>& f, const std::vector<Tensor<T>>& inputs,
                                  double rtol, double atol) {
  auto y = f();
  Generator gen(99);
  auto u = randn<T>(y.shape(), gen);
  auto fused = autograd::grad<T>({y}, inputs, {u});
  auto y2 = f();
  auto composite = autograd::grad<T>({y2}, inputs, {u}, std::nullopt, true);
  REQUIRE(fused.size() == composite.size());
  for (size_t i = 0; i < fused.size(); ++i) {
    INFO("input " << i);
    // (The bias gradient, sum(g), has no graph when g has none.)
    if (i == 0) REQUIRE(composite[i].requires_grad());
    LATENT_REQUIRE_CLOSE(fused[i], composite[i].detach(), rtol, atol);
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------
// batch_norm

TEST_CASE("batch_norm: training gradients (first and second order) for 2-D, 3-D and 4-D inputs", "[norm]") {
  for (Shape s : {Shape{5, 3}, Shape{3, 2, 7}, Shape{2, 3, 4, 5}}) {
    INFO("input shape " << s);
    const int64_t C = s[1];
    auto x = leaf(s, 1), w = leaf({C}, 2, 0.5, 2.0), b = leaf({C}, 3);
    check_grads(FN(F::batch_norm(x[0], {}, {}, x[1], x[2], true)), {x, w, b});
    check_grads(FN(F::batch_norm(x[0], {}, {}, {}, {}, true, 0.1, 1e-3)), {x});
    // Running stats are updated on every call but do not enter the output.
    auto rm = zeros<double>({C}), rv = ones<double>({C});
    check_grads(FN(F::batch_norm(x[0], rm, rv, x[1], {}, true)), {x, w});
  }
}

TEST_CASE("batch_norm: eval-mode gradients w.r.t. input, weight and bias", "[norm]") {
  auto x = leaf({4, 3, 2, 3}, 4), w = leaf({3}, 5, 0.5, 2.0), b = leaf({3}, 6);
  auto rm = leaf({3}, 7).detach(), rv = leaf({3}, 8, 0.5, 2.0).detach();
  check_grads(FN(F::batch_norm(x[0], rm, rv, x[1], x[2], false)), {x, w, b});
  check_grads(FN(F::batch_norm(x[0], rm, rv, {}, {}, false)), {x});
  // Eval mode leaves the running stats alone.
  auto before = rm.clone();
  F::batch_norm(x, rm, rv, w, b, false);
  LATENT_REQUIRE_CLOSE(rm, before, 0, 0);
}

TEST_CASE("batch_norm: values match the definition, in float and double", "[norm]") {
  Generator gen(10);
  auto xd = add(mul(randn<double>({6, 4, 5, 7}, gen), 3.0), 0.5);
  auto wd = randn<double>({4}, gen), bd = randn<double>({4}, gen);
  auto want = add(mul(reference_normalize(xd, xd.shape(), {0, 2, 3}, 1e-5), channel_view(wd, 4)), channel_view(bd, 4));
  LATENT_REQUIRE_CLOSE(F::batch_norm(xd, {}, {}, wd, bd, true), want, 1e-12, 1e-12);
  auto y = F::batch_norm(xd.to<float>(), {}, {}, wd.to<float>(), bd.to<float>(), true);
  LATENT_REQUIRE_CLOSE(y, want.to<float>(), 1e-5, 1e-5);
}

TEST_CASE("batch_norm: fused first-order backward agrees with the differentiable one", "[norm]") {
  Generator gen(11);
  auto x = randn<float>({8, 6, 9, 9}, gen).requires_grad_();
  auto w = randn<float>({6}, gen).requires_grad_(), b = randn<float>({6}, gen).requires_grad_();
  require_backward_paths_agree<float>([&] { return F::batch_norm(x, {}, {}, w, b, true); }, {x, w, b}, 1e-4, 1e-5);
  auto xd = x.detach().to<double>().requires_grad_();
  require_backward_paths_agree<double>([&] { return F::batch_norm(xd, {}, {}, {}, {}, true); }, {xd}, 1e-10, 1e-12);
  // Eval mode (constant statistics) has its own fused backward.
  auto rm = randn<float>({6}, gen), rv = add(rand<float>({6}, gen), 0.5);
  require_backward_paths_agree<float>([&] { return F::batch_norm(x, rm, rv, w, b, false); }, {x, w, b}, 1e-4, 1e-5);
  auto want = add(mul(div(sub(x.detach(), channel_view(rm, 4)), add(channel_view(rv, 4), 1e-5).sqrt()),
                      channel_view(w.detach(), 4)), channel_view(b.detach(), 4));
  LATENT_REQUIRE_CLOSE(F::batch_norm(x, rm, rv, w, b, false), want, 1e-5, 1e-5);
}

TEST_CASE("batch_norm: running statistics follow PyTorch's update (unbiased variance, momentum)", "[norm]") {
  // x (N=2, C=2, L=3); channel 0 holds 1..6, channel 1 holds squares.
  auto x = tensor<double>({1, 2, 3, 0, 1, 4, 4, 5, 6, 9, 16, 25}, {2, 2, 3});
  auto rm = tensor<double>({0.5, -1.0}), rv = tensor<double>({2.0, 1.0});
  F::batch_norm(x, rm, rv, {}, {}, true, 0.25);
  std::vector<double> c0{1, 2, 3, 4, 5, 6}, c1{0, 1, 4, 9, 16, 25};
  auto stats = [](const std::vector<double>& v) {
    double m = 0, s = 0;
    for (double e : v) m += e / v.size();
    for (double e : v) s += (e - m) * (e - m);
    return std::pair<double, double>{m, s / (v.size() - 1)};
  };
  auto [m0, v0] = stats(c0);
  auto [m1, v1] = stats(c1);
  LATENT_REQUIRE_CLOSE(rm, tensor<double>({0.75 * 0.5 + 0.25 * m0, 0.75 * -1.0 + 0.25 * m1}), 1e-15, 1e-15);
  LATENT_REQUIRE_CLOSE(rv, tensor<double>({0.75 * 2.0 + 0.25 * v0, 0.75 * 1.0 + 0.25 * v1}), 1e-15, 1e-15);

  // The module: momentum 0.1 by default; momentum=None averages every batch seen so far.
  nn::BatchNorm1d<double> bn(2);
  bn.forward(x);
  LATENT_REQUIRE_CLOSE(bn.running_mean, tensor<double>({0.1 * m0, 0.1 * m1}), 1e-15, 1e-15);
  LATENT_REQUIRE_CLOSE(bn.running_var, tensor<double>({0.9 + 0.1 * v0, 0.9 + 0.1 * v1}), 1e-15, 1e-15);
  REQUIRE(bn.num_batches_tracked.item() == 1.0);

  nn::BatchNorm1d<double> avg(2, 1e-5, std::nullopt);
  auto x2 = mul(x, 2.0), x3 = add(x, 1.0);
  avg.forward(x);
  avg.forward(x2);
  avg.forward(x3);
  REQUIRE(avg.num_batches_tracked.item() == 3.0);
  LATENT_REQUIRE_CLOSE(avg.running_mean, tensor<double>({(m0 + 2 * m0 + m0 + 1) / 3, (m1 + 2 * m1 + m1 + 1) / 3}),
                       1e-14, 1e-14);
  LATENT_REQUIRE_CLOSE(avg.running_var, tensor<double>({(v0 + 4 * v0 + v0) / 3, (v1 + 4 * v1 + v1) / 3}), 1e-14,
                       1e-14);

  // Eval: normalise by the running statistics; nothing is updated.
  avg.eval();
  auto y = avg.forward(x);
  REQUIRE(avg.num_batches_tracked.item() == 3.0);
  auto rmv = avg.running_mean.to_vector(), rvv = avg.running_var.to_vector();
  REQUIRE(y.at({1, 1, 2}) == Approx((25 - rmv[1]) / std::sqrt(rvv[1] + 1e-5)).epsilon(1e-14));
  REQUIRE(y.at({0, 0, 0}) == Approx((1 - rmv[0]) / std::sqrt(rvv[0] + 1e-5)).epsilon(1e-14));
}

TEST_CASE("batch_norm: errors name the op, the shapes and what was expected", "[norm]") {
  auto x = zeros<float>({4, 3, 5}), c3 = ones<float>({3}), c4 = ones<float>({4});
  REQUIRE_ERROR(F::batch_norm(zeros<float>({4}), {}, {}, {}, {}, true),
                Contains("batch_norm: expected an input of at least 2 dims (N, C, ...), got shape [4]"));
  REQUIRE_ERROR(F::batch_norm(x, {}, {}, c4, {}, true),
                Contains("batch_norm: weight should have shape [3] (C, the input's dim 1) for input of shape "
                         "[4, 3, 5], got shape [4]"));
  REQUIRE_ERROR(F::batch_norm(x, c4, c3, {}, {}, true), Contains("batch_norm: running_mean should have shape [3]"));
  REQUIRE_ERROR(F::batch_norm(x, c3, {}, {}, {}, true),
                Contains("batch_norm: running_mean and running_var must be given together"));
  REQUIRE_ERROR(F::batch_norm(x, {}, {}, {}, {}, false),
                Contains("batch_norm: running_mean and running_var are required when training=false"));
  REQUIRE_ERROR(F::batch_norm(zeros<float>({1, 3}), {}, {}, {}, {}, true),
                Contains("batch_norm: expected more than 1 value per channel when training, got input shape [1, 3]"));
  nn::BatchNorm2d<float> bn2(3);
  REQUIRE_ERROR(bn2.forward(x), Contains("BatchNorm2d: expected 4D input (got 3D input of shape [4, 3, 5])"));
  nn::BatchNorm1d<float> bn1(3);
  REQUIRE_ERROR(bn1.forward(zeros<float>({2, 3, 4, 4})), Contains("BatchNorm1d: expected 2D or 3D input (got 4D"));
  REQUIRE_ERROR(nn::BatchNorm1d<float>(0), Contains("BatchNorm1d: num_features must be positive, got 0"));
}

// ------------------------------------------------------------------------------------------
// layer_norm, group_norm, instance_norm

TEST_CASE("layer_norm: gradients (first and second order) over one and two trailing dims", "[norm]") {
  auto x = leaf({3, 4}, 20), w = leaf({4}, 21, 0.5, 2.0), b = leaf({4}, 22);
  check_grads(FN(F::layer_norm(x[0], {4}, x[1], x[2])), {x, w, b});
  check_grads(FN(F::layer_norm(x[0], {4})), {x});
  auto x3 = leaf({2, 3, 2, 9}, 23), w2 = leaf({2, 9}, 24, 0.5, 2.0), b2 = leaf({2, 9}, 25);
  check_grads(FN(F::layer_norm(x[0], {2, 9}, x[1], x[2], 1e-3)), {x3, w2, b2});
  check_grads(FN(F::layer_norm(x[0], {2, 9}, x[1])), {x3, w2});  // weight only (bias=False)
  check_grads(FN(F::layer_norm(x[0], {2, 9}, {}, x[1])), {x3, b2});
}

TEST_CASE("layer_norm: values and the fused backward agree with core ops", "[norm]") {
  Generator gen(26);
  auto xd = add(mul(randn<double>({5, 7, 3, 11}, gen), 2.0), -1.0);
  auto wd = randn<double>({3, 11}, gen), bd = randn<double>({3, 11}, gen);
  auto want = add(mul(reference_normalize(xd, {35, 33}, {1}, 1e-5), wd), bd);
  LATENT_REQUIRE_CLOSE(F::layer_norm(xd, {3, 11}, wd, bd), want, 1e-12, 1e-12);
  LATENT_REQUIRE_CLOSE(F::layer_norm(xd.to<float>(), {3, 11}, wd.to<float>(), bd.to<float>()), want.to<float>(),
                       1e-5, 1e-5);
  auto x = xd.to<float>().requires_grad_(), w = wd.to<float>().requires_grad_(), b = bd.to<float>().requires_grad_();
  require_backward_paths_agree<float>([&] { return F::layer_norm(x, {3, 11}, w, b); }, {x, w, b}, 1e-4, 1e-5);
}

TEST_CASE("group_norm: gradients (first and second order) with several groups, one group, one channel each",
          "[norm]") {
  auto x = leaf({2, 4, 3, 6}, 30), w = leaf({4}, 31, 0.5, 2.0), b = leaf({4}, 32);
  for (int64_t groups : {2, 1, 4}) {
    INFO("num_groups " << groups);
    check_grads(FN(F::group_norm(x[0], groups, x[1], x[2])), {x, w, b});
  }
  check_grads(FN(F::group_norm(x[0], 2)), {x});
  auto x3 = leaf({3, 6, 5}, 33);
  check_grads(FN(F::group_norm(x[0], 3, {}, {}, 1e-3)), {x3});
}

TEST_CASE("group_norm: values and the fused backward agree with core ops", "[norm]") {
  Generator gen(34);
  auto xd = add(mul(randn<double>({4, 8, 6, 10}, gen), 1.5), 2.0);
  auto wd = randn<double>({8}, gen), bd = randn<double>({8}, gen);
  for (int64_t groups : {4, 1, 8}) {
    INFO("num_groups " << groups);
    auto want = add(mul(reference_normalize(xd, {4, groups, -1}, {2}, 1e-5), channel_view(wd, 4)),
                    channel_view(bd, 4));
    LATENT_REQUIRE_CLOSE(F::group_norm(xd, groups, wd, bd), want, 1e-12, 1e-12);
    LATENT_REQUIRE_CLOSE(F::group_norm(xd.to<float>(), groups, wd.to<float>(), bd.to<float>()), want.to<float>(),
                         1e-5, 1e-5);
    auto x = xd.to<float>().requires_grad_(), w = wd.to<float>().requires_grad_();
    auto b = bd.to<float>().requires_grad_();
    require_backward_paths_agree<float>([&] { return F::group_norm(x, groups, w, b); }, {x, w, b}, 1e-4, 1e-5);
  }
}

TEST_CASE("group_norm and layer_norm: errors name the op, the shapes and what was expected", "[norm]") {
  auto x = zeros<float>({2, 6, 4});
  REQUIRE_ERROR(F::group_norm(x, 4), Contains("group_norm: expected the number of channels (6, dim 1 of input shape "
                                              "[2, 6, 4]) to be divisible by num_groups=4"));
  REQUIRE_ERROR(F::group_norm(x, 0), Contains("group_norm: num_groups must be positive, got 0"));
  REQUIRE_ERROR(F::group_norm(x, 3, ones<float>({3})),
                Contains("group_norm: weight should have shape [6] (C, the input's dim 1) for input of shape [2, 6, 4], "
                         "got shape [3]"));
  REQUIRE_ERROR(F::layer_norm(x, {6}),
                Contains("layer_norm: expected an input whose trailing dims equal normalized_shape [6], got input "
                         "shape [2, 6, 4]"));
  REQUIRE_ERROR(F::layer_norm(x, {1, 2, 6, 4}), Contains("layer_norm: expected an input whose trailing dims"));
  REQUIRE_ERROR(F::layer_norm(x, {6, 4}, ones<float>({4})),
                Contains("layer_norm: weight should have shape [6, 4] (normalized_shape)"));
  REQUIRE_ERROR(nn::GroupNorm<float>(4, 6), Contains("GroupNorm: num_channels (6) must be divisible by num_groups (4)"));
}

TEST_CASE("instance_norm: gradients, running statistics and eval mode", "[norm]") {
  auto x = leaf({2, 3, 4, 5}, 40), w = leaf({3}, 41, 0.5, 2.0), b = leaf({3}, 42);
  check_grads(FN(F::instance_norm(x[0], {}, {}, x[1], x[2])), {x, w, b});
  check_grads(FN(F::instance_norm(x[0])), {x});
  auto rm = leaf({3}, 43).detach(), rv = leaf({3}, 44, 0.5, 2.0).detach();
  check_grads(FN(F::instance_norm(x[0], rm, rv, x[1], x[2], false)), {x, w, b});

  // Equal to group norm with one channel per group.
  LATENT_REQUIRE_CLOSE(F::instance_norm(x.detach(), {}, {}, w.detach(), b.detach()),
                       F::group_norm(x.detach(), 3, w.detach(), b.detach()), 1e-14, 1e-14);

  // Running stats move towards the batch average of per-instance mean and unbiased var.
  auto xs = tensor<double>({1, 2, 3, 5, 0, 4, 2, 2, 1, 1, 1, 7}, {2, 2, 3});
  auto m = zeros<double>({2}), v = ones<double>({2});
  F::instance_norm(xs, m, v, {}, {}, true, 0.5);
  // Instances: (0,0) {1,2,3} mean 2 var 1; (0,1) {5,0,4} mean 3 var 7; (1,0) {2,2,1} mean 5/3
  // var 1/3; (1,1) {1,1,7} mean 3 var 12.
  LATENT_REQUIRE_CLOSE(m, tensor<double>({0.5 * (2 + 5.0 / 3) / 2, 0.5 * 3}), 1e-15, 1e-15);
  LATENT_REQUIRE_CLOSE(v, tensor<double>({0.5 + 0.5 * (1 + 1.0 / 3) / 2, 0.5 + 0.5 * (7 + 12) / 2}), 1e-15, 1e-15);

  REQUIRE_ERROR(F::instance_norm(zeros<float>({2, 3, 1, 1})),
                Contains("instance_norm: expected more than 1 spatial element when training, got input shape "
                         "[2, 3, 1, 1]"));
  REQUIRE_ERROR(F::instance_norm(zeros<float>({2, 3, 4}), {}, {}, {}, {}, false),
                Contains("instance_norm: running_mean and running_var are required when use_input_stats=false"));
}

TEST_CASE("norm: non-contiguous inputs and empty batches", "[norm]") {
  // A permuted view normalises like its contiguous copy, and its gradient reaches the base.
  auto base = leaf({3, 5, 2, 4}, 45);
  auto view = base.permute({0, 3, 2, 1});  // (3, 4, 2, 5), channels from base's last dim
  auto copy = view.detach().contiguous();
  auto w = leaf({4}, 46, 0.5, 2.0).detach();
  LATENT_REQUIRE_CLOSE(F::group_norm(view, 2, w), F::group_norm(copy, 2, w), 0, 0);
  LATENT_REQUIRE_CLOSE(F::batch_norm(view, {}, {}, w, {}, true), F::batch_norm(copy, {}, {}, w, {}, true), 0, 0);
  check_grads(FN(F::batch_norm(x[0].permute({0, 3, 2, 1}), {}, {}, w, {}, true)), {base});
  check_grads(FN(F::layer_norm(x[0].transpose(1, 3), {2, 5})), {base});
  // An empty batch gives an empty result (and an empty gradient), as PyTorch.
  auto empty = zeros<double>({0, 4, 3}).requires_grad_();
  auto y = F::group_norm(empty, 2, w);
  REQUIRE(y.shape() == Shape{0, 4, 3});
  auto g = autograd::grad<double>({y.sum()}, {empty})[0];
  REQUIRE(g.shape() == Shape{0, 4, 3});
  REQUIRE(F::layer_norm(empty, {3}).shape() == Shape{0, 4, 3});
  REQUIRE(F::batch_norm(zeros<double>({0, 4}), zeros<double>({4}), ones<double>({4}), {}, {}, false).numel() == 0);
}

TEST_CASE("norm: second derivatives through a training step (gradient penalty)", "[norm]") {
  // d/dx of |dL/dx|^2, the WGAN-GP pattern, through batch and group norm in double.
  auto x = leaf({4, 2, 3, 3}, 50), w = leaf({2}, 51, 0.5, 2.0);
  auto penalty = [&](const TensorD& y) {
    auto g = autograd::grad<double>({(y * y * y).sum()}, {x}, {}, std::nullopt, true)[0];
    return g.square().sum();
  };
  for (int which = 0; which < 2; ++which) {
    INFO((which == 0 ? "batch_norm" : "group_norm"));
    auto f = [&](const TensorD& in) {
      return which == 0 ? F::batch_norm(in, {}, {}, w, {}, true) : F::group_norm(in, 2, w);
    };
    auto p = penalty(f(x));
    auto gx = autograd::grad<double>({p}, {x, w});
    REQUIRE(gx[0].defined());
    REQUIRE(gx[1].defined());
    // Finite-difference check of one element of d(penalty)/dx.
    const double eps = 1e-6;
    double* px = x.data() + 7;
    const double saved = *px;
    *px = saved + eps;
    double plus = penalty(f(x)).item();
    *px = saved - eps;
    double minus = penalty(f(x)).item();
    *px = saved;
    REQUIRE(gx[0].contiguous().data()[7] == Approx((plus - minus) / (2 * eps)).epsilon(1e-5).margin(1e-6));
  }
}

// ------------------------------------------------------------------------------------------
// norm modules

TEST_CASE("norm modules: PyTorch's defaults, state_dict names and reprs", "[norm]") {
  nn::BatchNorm2d<float> bn(4);
  std::vector<std::string> keys;
  for (auto& [k, v] : bn.state_dict()) keys.push_back(k);
  REQUIRE(keys == std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"});
  REQUIRE(bn.parameters().size() == 2);
  REQUIRE(bn.weight.to_vector() == std::vector<float>(4, 1.f));
  REQUIRE(bn.bias.to_vector() == std::vector<float>(4, 0.f));
  REQUIRE(bn.running_mean.to_vector() == std::vector<float>(4, 0.f));
  REQUIRE(bn.running_var.to_vector() == std::vector<float>(4, 1.f));
  REQUIRE(bn.num_batches_tracked.dim() == 0);
  std::ostringstream s;
  s << bn;
  REQUIRE(s.str() == "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");

  nn::BatchNorm1d<float> plain(3, 1e-3, std::nullopt, false, false);
  REQUIRE(plain.state_dict().empty());
  s.str("");
  s << plain;
  REQUIRE(s.str() == "BatchNorm1d(3, eps=0.001, momentum=None, affine=False, track_running_stats=False)");
  // Without running stats, eval mode still normalises by the batch.
  plain.eval();
  auto x = tensor<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  auto y = plain.forward(x);
  REQUIRE(y.at({0, 0}) == Approx(-1.0).epsilon(1e-3));

  nn::InstanceNorm2d<float> in(3);
  REQUIRE(in.state_dict().empty());
  s.str("");
  s << in;
  REQUIRE(s.str() == "InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)");
  Generator gen(60);
  auto img = randn<float>({3, 4, 5}, gen);  // unbatched (C, H, W)
  LATENT_REQUIRE_CLOSE(in.forward(img), F::instance_norm(img.unsqueeze(0)).squeeze(0), 0, 0);
  nn::InstanceNorm2d<float> tracked(3, 1e-5, 0.1, true, true);
  keys.clear();
  for (auto& [k, v] : tracked.state_dict()) keys.push_back(k);
  REQUIRE(keys == std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"});
  tracked.forward(img.unsqueeze(0));
  REQUIRE(tracked.running_mean.to_vector() != std::vector<float>(3, 0.f));
  REQUIRE_ERROR(tracked.forward(zeros<float>({1, 2, 4, 4})),
                Contains("InstanceNorm2d: expected input's size at dim=1 to match num_features (3), but got: 2"));

  nn::GroupNorm<float> gn(2, 6);
  s.str("");
  s << gn;
  REQUIRE(s.str() == "GroupNorm(2, 6, eps=1e-05, affine=True)");
  REQUIRE(gn.parameters().size() == 2);

  nn::LayerNorm<float> ln({3, 4}), ln1({10}, 1e-6, true, false), ln10(10);
  s.str("");
  s << ln;
  REQUIRE(s.str() == "LayerNorm((3, 4), eps=1e-05, elementwise_affine=True)");
  s.str("");
  s << ln1;
  REQUIRE(s.str() == "LayerNorm((10,), eps=1e-06, elementwise_affine=True)");
  keys.clear();
  for (auto& [k, v] : ln1.state_dict()) keys.push_back(k);
  REQUIRE(keys == std::vector<std::string>{"weight"});
  REQUIRE(nn::LayerNorm<float>({5}, 1e-5, false).parameters().empty());
  REQUIRE(ln10.weight.shape() == Shape{10});
  auto z = randn<float>({2, 3, 4}, gen);
  LATENT_REQUIRE_CLOSE(ln.forward(z), F::layer_norm(z, {3, 4}), 0, 0);
}

TEST_CASE("norm modules: a training step updates the stats and trains weight and bias", "[norm]") {
  nn::BatchNorm2d<double> bn(3);
  auto x = leaf({4, 3, 2, 2}, 61);
  auto y = bn.forward(x);
  (y * leaf(y.shape(), 62).detach()).sum().backward();
  REQUIRE(bn.weight.grad().defined());
  REQUIRE(bn.bias.grad().defined());
  REQUIRE(x.grad().defined());
  // Batch-normalised output: each channel has mean 0 and biased variance 1/(1+eps/var).
  auto m = y.detach().mean({0, 2, 3});
  LATENT_REQUIRE_CLOSE(m, zeros<double>({3}), 0, 1e-14);
  REQUIRE(bn.num_batches_tracked.item() == 1.0);
}

// ------------------------------------------------------------------------------------------
// dropout

TEST_CASE("dropout: zeroes a fraction p, scales the rest by 1/(1-p), keeps the mean", "[norm][dropout]") {
  Generator gen(70);
  const int64_t n = 200000;
  auto x = ones<float>({n});
  for (double p : {0.1, 0.5, 0.8}) {
    INFO("p " << p);
    auto y = F::dropout(x, p, true, gen);
    auto v = y.to_vector();
    int64_t zeros_seen = 0;
    const float scale = static_cast<float>(1.0 / (1.0 - p));
    bool values_ok = true;
    for (float e : v) {
      if (e == 0.f) ++zeros_seen;
      else values_ok = values_ok && e == scale;
    }
    REQUIRE(values_ok);
    const double frac = static_cast<double>(zeros_seen) / n, sd = std::sqrt(p * (1 - p) / n);
    REQUIRE(std::abs(frac - p) < 5 * sd);
    REQUIRE(std::abs(y.mean().item() - 1.0) < 5 * sd / (1 - p));
  }
  // eval and p = 0 are the identity (the same tensor); p = 1 gives zeros and zero gradients.
  auto xg = leaf({3, 4}, 71);
  REQUIRE(F::dropout(xg, 0.5, false).is_same(xg));
  REQUIRE(F::dropout(xg, 0.0, true).is_same(xg));
  auto y1 = F::dropout(xg, 1.0, true);
  REQUIRE(y1.to_vector() == std::vector<double>(12, 0.0));
  y1.sum().backward();
  REQUIRE(xg.grad().to_vector() == std::vector<double>(12, 0.0));
}

TEST_CASE("dropout: the gradient is the mask; a seeded generator repeats it", "[norm][dropout]") {
  auto x = leaf({4, 5}, 72);
  // A fresh generator per call: the same mask every time, so finite differences apply.
  check_grads(FN([&] { Generator g(5); return F::dropout(x[0], 0.4, true, g); }()), {x});
  check_grads(FN([&] { Generator g(6); return F::dropout2d(x[0], 0.5, true, g); }()), {leaf({2, 3, 2, 2}, 73)});
  Generator g1(8), g2(8);
  auto y = F::dropout(x, 0.5, true, g1);
  LATENT_REQUIRE_CLOSE(y, F::dropout(x, 0.5, true, g2), 0, 0);
  // dL/dx = mask = y / x where x != 0.
  auto g = autograd::grad<double>({y.sum()}, {x})[0];
  LATENT_REQUIRE_CLOSE(g, y.detach() / x.detach(), 1e-15, 0);
  // The generator advanced: the next mask differs.
  REQUIRE(F::dropout(x, 0.5, true, g1).to_vector() != y.to_vector());
}

TEST_CASE("dropout2d: whole channels are kept or dropped", "[norm][dropout]") {
  Generator gen(74);
  auto x = ones<float>({50, 40, 3, 3});
  auto y = F::dropout2d(x, 0.3, true, gen);
  auto v = y.to_vector();
  int64_t dropped = 0;
  bool planes_ok = true;
  for (int64_t plane = 0; plane < 50 * 40; ++plane) {
    const float first = v[plane * 9];
    planes_ok = planes_ok && (first == 0.f || first == static_cast<float>(1 / 0.7));
    for (int k = 1; k < 9; ++k) planes_ok = planes_ok && v[plane * 9 + k] == first;
    dropped += first == 0.f;
  }
  REQUIRE(planes_ok);
  REQUIRE(std::abs(dropped / 2000.0 - 0.3) < 5 * std::sqrt(0.3 * 0.7 / 2000));
  // 3-D inputs are (N, C, L), as PyTorch reads them.
  auto y3 = F::dropout2d(ones<float>({2, 30, 5}), 0.5, true, gen);
  auto v3 = y3.to_vector();
  for (int64_t row = 0; row < 60; ++row)
    for (int k = 1; k < 5; ++k) REQUIRE(v3[row * 5 + k] == v3[row * 5]);
  REQUIRE(F::dropout2d(x, 0.3, false).is_same(x));
  REQUIRE_ERROR(F::dropout2d(ones<float>({4, 5}), 0.5), Contains("dropout2d: expected a 4-D (N, C, H, W) or 3-D"));
}

TEST_CASE("dropout: modules drop only in training; errors", "[norm][dropout]") {
  nn::Dropout<float> d(0.25);
  nn::Dropout2d<float> d2;
  std::ostringstream s;
  s << d << " " << d2;
  REQUIRE(s.str() == "Dropout(p=0.25, inplace=False) Dropout2d(p=0.5, inplace=False)");
  auto x = ones<float>({64, 64});
  REQUIRE(d.forward(x).to_vector() != x.to_vector());
  d.eval();
  REQUIRE(d.forward(x).is_same(x));
  auto x4 = ones<float>({4, 8, 2, 2});
  d2.eval();
  REQUIRE(d2.forward(x4).is_same(x4));
  REQUIRE_ERROR(F::dropout(x, 1.5), Contains("dropout: dropout probability has to be between 0 and 1, but got 1.5"));
  REQUIRE_ERROR(F::dropout(x, -0.1), Contains("between 0 and 1, but got -0.1"));
  REQUIRE_ERROR(nn::Dropout<float>(2.0), Contains("Dropout: dropout probability has to be between 0 and 1"));
}

// ------------------------------------------------------------------------------------------
// embedding

TEST_CASE("embedding: rows of the table; repeated indices accumulate, padding_idx gets none", "[norm][embedding]") {
  auto w = tensor<double>({0, 1, 10, 11, 20, 21, 30, 31}, {4, 2}).requires_grad_();
  auto i = idx({3, 1, 1, 0, 2, 1}, {2, 3});
  auto y = F::embedding(i, w, 1);
  REQUIRE(y.shape() == Shape{2, 3, 2});
  // The padding row is still read in the forward pass.
  REQUIRE(y.to_vector() == std::vector<double>{30, 31, 10, 11, 10, 11, 0, 1, 20, 21, 10, 11});
  auto g = from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 3, 2});
  auto gw = autograd::grad<double>({y}, {w}, {g})[0];
  REQUIRE(gw.to_vector() == std::vector<double>{7, 8, 0, 0, 9, 10, 1, 2});
  // Without padding, index 1 (three times) sums its rows of g; a negative padding_idx counts from the end.
  auto gw_all = autograd::grad<double>({F::embedding(i, w)}, {w}, {g})[0];
  REQUIRE(gw_all.to_vector() == std::vector<double>{7, 8, 3 + 5 + 11, 4 + 6 + 12, 9, 10, 1, 2});
  auto gw_neg = autograd::grad<double>({F::embedding(i, w, -1)}, {w}, {g})[0];
  REQUIRE(gw_neg.to_vector() == std::vector<double>{7, 8, 19, 22, 9, 10, 0, 0});
}

TEST_CASE("embedding: gradients (first and second order) w.r.t. the table", "[norm][embedding]") {
  auto w = leaf({5, 3}, 80);
  auto i = idx({4, 0, 2, 2, 1, 4, 4, 3}, {4, 2});
  check_grads(FN(F::embedding(i, x[0])), {w});
  check_grads(FN(F::embedding(idx({2}, {}), x[0])), {w});  // a 0-dim index
  // With padding_idx the gradient deliberately differs from the derivative (row 4 is read
  // but gets none), so only the second order is a finite-difference check: the backward's
  // own derivative must be consistent.
  auto r = autograd::gradgradcheck(FN(F::embedding(i, x[0], 4)), {w});
  INFO(r.message);
  REQUIRE(r.ok);
}

TEST_CASE("embedding: module init as PyTorch; errors", "[norm][embedding]") {
  manual_seed(81);
  nn::Embedding<float> e(1000, 16, 3);
  auto wv = e.weight.to_vector();
  double m = 0, sq = 0;
  for (float v : wv) m += v / wv.size();
  for (float v : wv) sq += (v - m) * (v - m) / wv.size();
  REQUIRE(std::abs(m) < 0.02);
  REQUIRE(std::abs(std::sqrt(sq) - 1.0) < 0.02);
  REQUIRE(e.weight.select(0, 3).to_vector() == std::vector<float>(16, 0.f));
  std::ostringstream s;
  s << e << " " << nn::Embedding<float>(10, 3, -1) << " " << nn::Embedding<float>(10, 3);
  REQUIRE(s.str() == "Embedding(1000, 16, padding_idx=3) Embedding(10, 3, padding_idx=9) Embedding(10, 3)");
  auto y = e(idx({3, 5}, {2}));
  REQUIRE(y.shape() == Shape{2, 16});
  y.sum().backward();
  REQUIRE(e.weight.grad().select(0, 3).to_vector() == std::vector<float>(16, 0.f));
  REQUIRE(e.weight.grad().select(0, 5).to_vector() == std::vector<float>(16, 1.f));

  auto w = zeros<float>({5, 3});
  REQUIRE_ERROR(F::embedding(idx({0, 5}, {2}), w),
                Contains("embedding: index 5 at flat position 1 of indices (shape [2]) is out of range for "
                         "num_embeddings 5 (weight shape [5, 3])"));
  REQUIRE_ERROR(F::embedding(idx({-1}, {1}), w), Contains("embedding: index -1 at flat position 0"));
  REQUIRE_ERROR(F::embedding(idx({0}, {1}), w, 5),
                Contains("embedding: padding_idx must be within num_embeddings (5, weight shape [5, 3]), got 5"));
  REQUIRE_ERROR(F::embedding(idx({0}, {1}), zeros<float>({5})),
                Contains("embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape [5]"));
  REQUIRE_ERROR(nn::Embedding<float>(4, 2, -5), Contains("Embedding: padding_idx must be within num_embeddings (4)"));
}
