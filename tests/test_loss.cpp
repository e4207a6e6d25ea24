// Loss functions (nn/functional/loss.hpp) and loss modules (nn/loss.hpp): first and second
// derivatives in double against finite differences, PyTorch's edge cases (BCE at
// probabilities 0 and 1, every target ignored), hand-computed values, and error messages.
// Agreement with PyTorch's values and gradients is in test_parity_loss.cpp.
#include <latent/nn/loss.hpp>

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
const std::vector<std::string> kReductions = {"none", "mean", "sum"};

using latent::testing::idx;

// Rows of probabilities (softmax of random logits) as a leaf.
TensorD prob_leaf(const Shape& shape, uint64_t seed, int64_t class_dim = 1) {
  NoGradGuard no_grad;
  return leaf(shape, seed).detach().softmax(class_dim).contiguous().clone().requires_grad_();
}

// The gradient of `loss` (summed) w.r.t. x.
template <typename T>
Tensor<T> grad_of(const Tensor<T>& loss, const Tensor<T>& x) {
  return autograd::grad<T>({loss.sum()}, {x})[0];
}
}  // namespace

TEST_CASE("loss: mse, l1, smooth_l1, huber gradients w.r.t. input and target", "[loss]") {
  for (const auto& red : kReductions) {
    INFO("reduction " << red);
    auto x = leaf({3, 4}, 1), y = leaf({3, 4}, 2);
    check_grads(FN(F::mse_loss(x[0], x[1], red)), {x, y});
    check_grads(FN(F::l1_loss(x[0], x[1], red)), {x, y});
    for (double beta : {1.0, 0.5, 0.0}) {
      INFO("beta " << beta);
      check_grads(FN(F::smooth_l1_loss(x[0], x[1], red, beta)), {x, y});
    }
    for (double delta : {1.0, 0.5, 2.5}) {
      INFO("delta " << delta);
      check_grads(FN(F::huber_loss(x[0], x[1], red, delta)), {x, y});
    }
  }
}

TEST_CASE("loss: binary_cross_entropy gradients w.r.t. input and target, with weight", "[loss]") {
  auto x = leaf({3, 4}, 3, 0.05, 0.95), y = leaf({3, 4}, 4, 0.0, 1.0);
  auto w = leaf({4}, 5, 0.5, 2.0).detach();
  for (const auto& red : kReductions) {
    INFO("reduction " << red);
    check_grads(FN(F::binary_cross_entropy(x[0], x[1], {}, red)), {x, y});
    check_grads(FN(F::binary_cross_entropy(x[0], x[1], w, red)), {x, y});
  }
}

TEST_CASE("loss: binary_cross_entropy_with_logits gradients, weight and pos_weight", "[loss]") {
  auto x = leaf({3, 4}, 6, -4.0, 4.0), y = leaf({3, 4}, 7, 0.0, 1.0);
  auto w = leaf({3, 1}, 8, 0.5, 2.0).detach(), pw = leaf({4}, 9, 0.5, 3.0).detach();
  for (const auto& red : kReductions) {
    INFO("reduction " << red);
    check_grads(FN(F::binary_cross_entropy_with_logits(x[0], x[1], {}, red)), {x, y});
    check_grads(FN(F::binary_cross_entropy_with_logits(x[0], x[1], w, red, pw)), {x, y});
  }
  // x == 0 (a zero-initialised last layer): d/dx = sigmoid(0) - y, not the 0 a composition
  // through |x| and min(x, 0) would give.
  auto x0 = zeros<double>({3}).requires_grad_();
  auto y0 = tensor<double>({0.0, 1.0, 0.25});
  auto g = grad_of(F::binary_cross_entropy_with_logits(x0, y0, {}, "sum"), x0);
  LATENT_REQUIRE_CLOSE(g, tensor<double>({0.5, -0.5, 0.25}), 1e-15, 1e-15);
  check_grads(FN(F::binary_cross_entropy_with_logits(x[0], y0, {}, "sum")), {x0});
}

TEST_CASE("loss: binary_cross_entropy_with_logits is stable for large logits", "[loss]") {
  auto x = tensor<float>({100.f, -100.f, 100.f, -100.f}).requires_grad_();
  auto y = tensor<float>({1.f, 0.f, 0.f, 1.f});
  auto l = F::binary_cross_entropy_with_logits(x, y, {}, "none");
  LATENT_REQUIRE_CLOSE(l, tensor<float>({0.f, 0.f, 100.f, 100.f}), 1e-6, 1e-30);
  LATENT_REQUIRE_CLOSE(grad_of(l, x), tensor<float>({0.f, 0.f, 1.f, -1.f}), 1e-6, 1e-30);
}

TEST_CASE("loss: binary_cross_entropy at probabilities exactly 0 and 1 is finite, as PyTorch", "[loss]") {
  // x = 0 or 1: each log is clamped at -100, so a certain wrong prediction costs 100.
  auto check = [](auto zero) {
    using T = decltype(zero);
    auto x = tensor<T>({0, 0, 1, 1}).requires_grad_();
    auto y = tensor<T>({0, 1, 0, 1});
    auto none = F::binary_cross_entropy(x, y, {}, "none");
    LATENT_REQUIRE_CLOSE(none, tensor<T>({0, 100, 100, 0}), 0, 0);
    REQUIRE(F::binary_cross_entropy(x, y).item() == T(50));
    REQUIRE(F::binary_cross_entropy(x, y, {}, "sum").item() == T(200));
    // PyTorch's gradient (x - y) / max(x (1 - x), 1e-12): 0 where right, -+1e12 where wrong.
    auto g = grad_of(F::binary_cross_entropy(x, y, {}, "sum"), x);
    const T big = T(1) / T(1e-12);
    LATENT_REQUIRE_CLOSE(g, tensor<T>({0, -big, big, 0}), 1e-6, 0);
    auto gm = grad_of(F::binary_cross_entropy(x, y), x);
    LATENT_REQUIRE_CLOSE(gm, tensor<T>({0, -big / 4, big / 4, 0}), 1e-6, 0);
  };
  check(0.0f);
  check(0.0);
}

TEST_CASE("loss: cross_entropy with class indices: gradients for every option", "[loss]") {
  auto x = leaf({4, 5}, 10);
  auto t = idx({1, 0, 4, 2}, {4});
  auto t_ign = idx({1, -100, 4, -100}, {4});
  auto w = leaf({5}, 11, 0.2, 2.0).detach();
  for (const auto& red : kReductions) {
    INFO("reduction " << red);
    check_grads(FN(F::cross_entropy(x[0], t, {}, -100, red)), {x});
    check_grads(FN(F::cross_entropy(x[0], t, w, -100, red)), {x});
    check_grads(FN(F::cross_entropy(x[0], t_ign, w, -100, red)), {x});
    check_grads(FN(F::cross_entropy(x[0], t, {}, 2, red)), {x});  // ignores class 2
    check_grads(FN(F::cross_entropy(x[0], t_ign, {}, -100, red, 0.2)), {x});
    check_grads(FN(F::cross_entropy(x[0], t_ign, w, -100, red, 0.2)), {x});
    // (N, C, d1, d2) and unbatched (C)
    auto x4 = leaf({2, 3, 2, 2}, 12);
    auto t4 = idx({0, 2, 1, 1, 2, -100, 0, 1}, {2, 2, 2});
    check_grads(FN(F::cross_entropy(x[0], t4, w.narrow(0, 0, 3), -100, red, 0.1)), {x4});
    auto x1 = leaf({5}, 13);
    check_grads(FN(F::cross_entropy(x[0], idx({3}, {}), w, -100, red, 0.1)), {x1});
  }
}

TEST_CASE("loss: cross_entropy with class probabilities: gradients w.r.t. input and target", "[loss]") {
  auto x = leaf({4, 5}, 14);
  auto p = prob_leaf({4, 5}, 15);
  auto w = leaf({5}, 16, 0.2, 2.0).detach();
  for (const auto& red : kReductions) {
    INFO("reduction " << red);
    check_grads(FN(F::cross_entropy(x[0], x[1], {}, -100, red)), {x, p});
    check_grads(FN(F::cross_entropy(x[0], x[1], w, -100, red, 0.3)), {x, p});
    auto x3 = leaf({2, 3, 4}, 17);
    auto p3 = prob_leaf({2, 3, 4}, 18);
    check_grads(FN(F::cross_entropy(x[0], x[1], w.narrow(0, 0, 3), -100, red)), {x3, p3});
  }
}

TEST_CASE("loss: nll_loss gradients", "[loss]") {
  auto x = leaf({4, 5}, 19);
  auto w = leaf({5}, 20, 0.2, 2.0).detach();
  auto t = idx({1, -100, 4, 1}, {4});
  for (const auto& red : kReductions) {
    INFO("reduction " << red);
    check_grads(FN(F::nll_loss(x[0], t, {}, -100, red)), {x});
    check_grads(FN(F::nll_loss(x[0], t, w, -100, red)), {x});
    auto x3 = leaf({2, 3, 2}, 21);
    check_grads(FN(F::nll_loss(x[0], idx({0, 2, 1, 0}, {2, 2}), w.narrow(0, 1, 3), -100, red)), {x3});
  }
}

TEST_CASE("loss: kl_div gradients w.r.t. input and target, every reduction, log_target", "[loss]") {
  auto x = leaf({3, 4}, 22, -3.0, 0.0), y = leaf({3, 4}, 23, 0.05, 1.0), ly = leaf({3, 4}, 24, -3.0, 0.0);
  for (const std::string red : {"none", "mean", "sum", "batchmean"}) {
    INFO("reduction " << red);
    check_grads(FN(F::kl_div(x[0], x[1], red)), {x, y});
    check_grads(FN(F::kl_div(x[0], x[1], red, true)), {x, ly});
  }
}

TEST_CASE("loss: hand-computed values", "[loss]") {
  auto x = tensor<double>({1.0, 2.0, 3.0, 1.0, 1.0, 1.0}, {2, 3});
  auto t = idx({2, 0}, {2});
  double lse0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)), lse1 = 1.0 + std::log(3.0);
  double l0 = lse0 - 3.0, l1 = lse1 - 1.0;
  LATENT_REQUIRE_CLOSE(F::cross_entropy(x, t, {}, -100, "none"), tensor<double>({l0, l1}), 1e-14, 0);
  REQUIRE(F::cross_entropy(x, t).item() == Approx((l0 + l1) / 2).epsilon(1e-14));
  // Weighted mean divides by the weights of the targets: (w2 l0 + w0 l1) / (w2 + w0).
  auto w = tensor<double>({0.5, 1.0, 2.0});
  REQUIRE(F::cross_entropy(x, t, w).item() == Approx((2.0 * l0 + 0.5 * l1) / 2.5).epsilon(1e-14));
  // Label smoothing e: (1 - e) nll + e / C * sum_c -log p_c, averaged over the samples.
  double e = 0.3;
  auto logp = x.log_softmax(1).to_vector();
  double smooth0 = -(logp[0] + logp[1] + logp[2]), smooth1 = -(logp[3] + logp[4] + logp[5]);
  double want = (1 - e) * (l0 + l1) / 2 + e / 3 * (smooth0 + smooth1) / 2;
  REQUIRE(F::cross_entropy(x, t, {}, -100, "mean", e).item() == Approx(want).epsilon(1e-14));
  // ... and with weights, smooth_n = -sum_c w_c log p_c, both divided by w[t] summed.
  double ws0 = -(0.5 * logp[0] + 1.0 * logp[1] + 2.0 * logp[2]);
  double ws1 = -(0.5 * logp[3] + 1.0 * logp[4] + 2.0 * logp[5]);
  want = (1 - e) * (2.0 * l0 + 0.5 * l1) / 2.5 + e / 3 * (ws0 + ws1) / 2.5;
  REQUIRE(F::cross_entropy(x, t, w, -100, "mean", e).item() == Approx(want).epsilon(1e-14));

  auto a = tensor<double>({0.0, 0.2, 3.0, -1.5}), b = tensor<double>({0.5, 0.0, 0.0, 0.0});
  LATENT_REQUIRE_CLOSE(F::smooth_l1_loss(a, b, "none", 1.0), tensor<double>({0.125, 0.02, 2.5, 1.0}), 1e-15, 0);
  LATENT_REQUIRE_CLOSE(F::huber_loss(a, b, "none", 2.0), tensor<double>({0.125, 0.02, 4.0, 1.125}), 1e-15, 0);
  // kl_div: a zero target contributes 0 (xlogy), not 0 * log 0.
  auto q = tensor<double>({0.0, 0.5, 0.5});
  auto logp_in = tensor<double>({-1.0, -0.5, -2.0});
  double kl = 0.5 * (std::log(0.5) + 0.5) + 0.5 * (std::log(0.5) + 2.0);
  REQUIRE(F::kl_div(logp_in, q, "sum").item() == Approx(kl).epsilon(1e-14));
  auto q2 = tensor<double>({0.0, 0.5, 0.5, 0.25, 0.25, 0.5}, {2, 3});
  auto in2 = tensor<double>({-1.0, -0.5, -2.0, -1.0, -1.0, -1.0}, {2, 3});
  REQUIRE(F::kl_div(in2, q2, "batchmean").item() == Approx(F::kl_div(in2, q2, "sum").item() / 2).epsilon(1e-15));
  // log_target takes log q: the same divergence (for q > 0; at log q = -inf both libraries
  // give exp(-inf) * -inf = nan).
  auto q3 = tensor<double>({0.2, 0.3, 0.5, 0.25, 0.25, 0.5}, {2, 3});
  REQUIRE(F::kl_div(in2, q3.log(), "sum", true).item() == Approx(F::kl_div(in2, q3, "sum").item()).epsilon(1e-14));
}

TEST_CASE("loss: every target ignored gives PyTorch's nan mean with zero gradients", "[loss]") {
  auto x = leaf({3, 4}, 25);
  auto t = idx({-100, -100, -100}, {3});
  for (double smoothing : {0.0, 0.1}) {
    INFO("label_smoothing " << smoothing);
    auto mean = F::cross_entropy(x, t, {}, -100, "mean", smoothing);
    REQUIRE(std::isnan(mean.item()));
    LATENT_REQUIRE_CLOSE(grad_of(mean, x), zeros<double>({3, 4}), 0, 0);
    REQUIRE(F::cross_entropy(x, t, {}, -100, "sum", smoothing).item() == 0.0);
    LATENT_REQUIRE_CLOSE(F::cross_entropy(x, t, {}, -100, "none", smoothing), zeros<double>({3}), 0, 0);
  }
  auto nll = F::nll_loss(x, t);
  REQUIRE(std::isnan(nll.item()));
  LATENT_REQUIRE_CLOSE(grad_of(nll, x), zeros<double>({3, 4}), 0, 0);
  // Weights that are zero for every present class: the same 0 / 0.
  auto zero_w = tensor<double>({0.0, 0.0, 1.0, 1.0});
  REQUIRE(std::isnan(F::cross_entropy(x, idx({0, 1, 0}, {3}), zero_w).item()));
  // An empty input: mean of nothing.
  REQUIRE(std::isnan(F::mse_loss(zeros<double>({0}), zeros<double>({0})).item()));
}

TEST_CASE("loss: bad arguments throw with the op, shapes and what was expected", "[loss]") {
  auto x = zeros<float>({3});
  auto x2 = zeros<float>({3, 4});
  REQUIRE_ERROR(F::mse_loss(x, zeros<float>({3, 1})),
                Contains("mse_loss: target shape [3, 1] must match input shape [3]"));
  REQUIRE_ERROR(F::l1_loss(x2, zeros<float>({4})), Contains("l1_loss: target shape [4] must match input shape [3, 4]"));
  REQUIRE_ERROR(F::mse_loss(x, x, "avg"), Contains("mse_loss: 'avg' is not a valid value for reduction"));
  REQUIRE_ERROR(F::huber_loss(x, x, "batchmean"), Contains("huber_loss: 'batchmean' is not a valid value"));
  REQUIRE_ERROR(F::smooth_l1_loss(x, x, "mean", -1.0), Contains("smooth_l1_loss: beta must be non-negative, got -1"));
  REQUIRE_ERROR(F::huber_loss(x, x, "mean", 0.0), Contains("huber_loss: delta must be positive, got 0"));

  auto p = tensor<float>({0.2f, 1.5f, 0.3f});
  REQUIRE_ERROR(F::binary_cross_entropy(p, x),
                Contains("binary_cross_entropy: all elements of input should be between 0 and 1, got 1.5 at flat index 1"));
  REQUIRE_ERROR(F::binary_cross_entropy(x, tensor<float>({0.f, -0.5f, 1.f})),
                Contains("all elements of target should be between 0 and 1, got -0.5"));
  REQUIRE_ERROR(F::binary_cross_entropy(x, zeros<float>({1, 3})),
                Contains("binary_cross_entropy: target shape [1, 3] must match input shape [3]"));
  REQUIRE_ERROR(F::binary_cross_entropy(x2, x2, zeros<float>({3})),
                Contains("binary_cross_entropy: weight of shape [3] does not broadcast to the input shape [3, 4]"));
  REQUIRE_ERROR(F::binary_cross_entropy_with_logits(x2, x2, {}, "mean", zeros<float>({2})),
                Contains("binary_cross_entropy_with_logits: pos_weight of shape [2] does not broadcast"));

  auto logits = zeros<float>({2, 3});
  REQUIRE_ERROR(F::cross_entropy(logits, idx({0, 3}, {2})),
                Contains("cross_entropy: target 3 at flat index 1 is out of bounds: expected a class index in [0, 3) "
                         "or ignore_index -100 (input shape [2, 3], target shape [2])"));
  REQUIRE_ERROR(F::nll_loss(logits, idx({-1, 0}, {2})), Contains("nll_loss: target -1 at flat index 0 is out of bounds"));
  REQUIRE_ERROR(F::cross_entropy(logits, idx({0, 1}, {2, 1})),
                Contains("cross_entropy: expected a target of class indices of shape [2] for input of shape [2, 3], got "
                         "target shape [2, 1]"));
  REQUIRE_ERROR(F::cross_entropy(zeros<float>({2, 3, 4}), idx({0, 1, 2}, {3})),
                Contains("expected a target of class indices of shape [2, 4] for input of shape [2, 3, 4]"));
  REQUIRE_ERROR(F::cross_entropy(zeros<float>({}), idx({0}, {})),
                Contains("cross_entropy: expected input of shape (C), (N, C) or (N, C, d1, ...), got shape []"));
  REQUIRE_ERROR(F::cross_entropy(logits, idx({0, 1}, {2}), zeros<float>({4})),
                Contains("cross_entropy: weight should have one entry per class (3) but has shape [4]"));
  REQUIRE_ERROR(F::cross_entropy(logits, idx({0, 1}, {2}), {}, -100, "mean", 1.5),
                Contains("cross_entropy: label_smoothing must be between 0.0 and 1.0, got 1.5"));
  REQUIRE_ERROR(F::cross_entropy(logits, zeros<float>({2, 4})),
                Contains("cross_entropy: a target of class probabilities must have the input's shape [2, 3], got [2, 4]"));
  REQUIRE_ERROR(F::cross_entropy(logits, logits, {}, 0),
                Contains("cross_entropy: ignore_index (0) is not supported for a target of class probabilities"));
  REQUIRE_ERROR(F::kl_div(x2, x), Contains("kl_div: target shape [3] must match input shape [3, 4]"));
  REQUIRE_ERROR(F::kl_div(x, x, "max"), Contains("expected 'none', 'mean', 'sum' or 'batchmean'"));
}

TEST_CASE("loss: modules hold their options and weights as buffers", "[loss][nn]") {
  Generator gen(26);
  auto x = randn<double>({4, 3}, gen), y = rand<double>({4, 3}, gen);
  auto probs = x.sigmoid();
  auto w3 = tensor<double>({0.5, 1.0, 2.0});
  auto t = idx({2, 0, -100, 1}, {4});

  nn::MSELoss<double> mse("sum");
  LATENT_REQUIRE_CLOSE(mse(x, y), F::mse_loss(x, y, "sum"), 0, 0);
  REQUIRE(mse.state_dict().empty());
  nn::L1Loss<double> l1;
  LATENT_REQUIRE_CLOSE(l1(x, y), F::l1_loss(x, y), 0, 0);
  nn::SmoothL1Loss<double> sl1("none", 0.5);
  LATENT_REQUIRE_CLOSE(sl1(x, y), F::smooth_l1_loss(x, y, "none", 0.5), 0, 0);
  nn::HuberLoss<double> huber("mean", 0.25);
  LATENT_REQUIRE_CLOSE(huber(x, y), F::huber_loss(x, y, "mean", 0.25), 0, 0);
  nn::BCELoss<double> bce(w3);
  LATENT_REQUIRE_CLOSE(bce(probs, y), F::binary_cross_entropy(probs, y, w3), 0, 0);
  REQUIRE(bce.state_dict().size() == 1);
  nn::BCEWithLogitsLoss<double> bcel({}, "sum", w3);
  LATENT_REQUIRE_CLOSE(bcel(x, y), F::binary_cross_entropy_with_logits(x, y, {}, "sum", w3), 0, 0);
  auto sd = bcel.state_dict();  // an absent weight is no entry, as PyTorch's None buffer
  REQUIRE(sd.size() == 1);
  REQUIRE(sd[0].first == "pos_weight");
  nn::CrossEntropyLoss<double> ce(w3, -100, "mean", 0.1);
  LATENT_REQUIRE_CLOSE(ce(x, t), F::cross_entropy(x, t, w3, -100, "mean", 0.1), 0, 0);
  auto soft = x.softmax(1);
  LATENT_REQUIRE_CLOSE(ce(x, soft), F::cross_entropy(x, soft, w3, -100, "mean", 0.1), 0, 0);
  REQUIRE(ce.state_dict().at(0).first == "weight");
  nn::NLLLoss<double> nll({}, 1, "sum");
  auto logp = x.log_softmax(1);
  LATENT_REQUIRE_CLOSE(nll(logp, idx({2, 0, 1, 1}, {4})), F::nll_loss(logp, idx({2, 0, 1, 1}, {4}), {}, 1, "sum"), 0, 0);
  nn::KLDivLoss<double> kl("batchmean", true);
  LATENT_REQUIRE_CLOSE(kl(logp, soft.log()), F::kl_div(logp, soft.log(), "batchmean", true), 0, 0);

  REQUIRE_ERROR(nn::MSELoss<float>("avg"), Contains("MSELoss: 'avg' is not a valid value for reduction"));
  REQUIRE_ERROR(nn::CrossEntropyLoss<float>({}, -100, "batchmean"), Contains("CrossEntropyLoss: 'batchmean'"));
  REQUIRE_ERROR(nn::CrossEntropyLoss<float>({}, -100, "mean", -0.1), Contains("label_smoothing must be between"));
  REQUIRE_ERROR(nn::HuberLoss<float>("mean", -1.0), Contains("HuberLoss: delta must be positive"));
  // A loss module trains a model like any other: the gradient reaches the parameters.
  auto w = zeros<double>({3, 3}).requires_grad_();
  auto loss = ce(x.matmul(w), t);
  loss.backward();
  REQUIRE(w.grad().defined());
  REQUIRE(w.grad().abs().sum().item() > 0);
}
