// Loss functions as torch.nn.functional: binary_cross_entropy(_with_logits), mse_loss,
// l1_loss, smooth_l1_loss, huber_loss, cross_entropy, nll_loss, kl_div. Each takes
// PyTorch's arguments in PyTorch's order (less the deprecated size_average/reduce); an
// absent optional tensor (weight, pos_weight) is an undefined tensor, `{}`. `reduction` is
// PyTorch's string: "none" (per-element losses), "mean" (the default) or "sum"; kl_div
// also takes "batchmean".
//
//   auto loss = nn::functional::cross_entropy(logits, labels, {}, -100, "mean", 0.1);
//
// Losses are compositions of differentiable ops, so gradients of gradients come free.
// Two pieces are dedicated ops because no composition reproduces PyTorch's gradient:
// binary_cross_entropy (its forward clamps the logs at -100, yet its gradient is
// (x - y) / max(x (1 - x), 1e-12), finite at 0 and 1), and log_sigmoid (built from |x| and
// min(x, 0) it would have a zero derivative at x == 0, where logits of a fresh layer sit).
//
// One deliberate difference: the element-wise losses require target.shape == input.shape.
// PyTorch warns and broadcasts for mse/l1/smooth_l1/huber (kl_div broadcasts silently);
// broadcasting a (N, 1) prediction against a (N) target computes an (N, N) loss, a bug
// nobody means to write.
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../../latent.hpp"

namespace latent::nn::functional {

namespace loss_detail {

enum class Reduction { None, Mean, Sum, BatchMean };

inline Reduction parse_reduction(const char* op, const std::string& r, bool batchmean_ok = false) {
  if (r == "none") return Reduction::None;
  if (r == "mean") return Reduction::Mean;
  if (r == "sum") return Reduction::Sum;
  if (r == "batchmean" && batchmean_ok) return Reduction::BatchMean;
  LATENT_CHECK(false, op, ": '", r, "' is not a valid value for reduction; expected 'none', 'mean'",
               batchmean_ok ? ", 'sum' or 'batchmean'" : " or 'sum'");
  return Reduction::None;
}

// s / total, PyTorch's mean-type normalisation. total == 0 (every target ignored, or an
// empty input) gives PyTorch's result: a nan loss with zero gradients, since no element
// contributed (dividing by 0 here would give 0 * inf = nan gradients instead).
template <typename T>
Tensor<T> divide_total(const Tensor<T>& s, double total) {
  if (total == 0) return add(mul(s, 0.0), std::numeric_limits<double>::quiet_NaN());
  return div(s, scalar_tensor<T>(static_cast<T>(total), s.device()));
}

template <typename T>
Tensor<T> reduce(const Tensor<T>& loss, Reduction r) {
  if (r == Reduction::None) return loss;
  if (r == Reduction::Sum) return sum(loss);
  return divide_total(sum(loss), static_cast<double>(loss.numel()));
}

template <typename T>
void check_same_shape(const char* op, const Tensor<T>& input, const Tensor<T>& target) {
  LATENT_CHECK(input.defined() && target.defined(), op, ": got an undefined input or target tensor");
  LATENT_CHECK(input.shape() == target.shape(), op, ": target shape ", target.shape(), " must match input shape ",
               input.shape(), " (losses do not broadcast the target: a (N, 1) input against a (N) target would "
               "silently compute an (N, N) loss)");
}

// weight / pos_weight may broadcast to the input but must not enlarge the loss.
template <typename T>
void check_broadcasts_to(const char* op, const char* what, const Tensor<T>& w, const Shape& shape) {
  bool ok = w.dim() <= shape.rank();
  for (int i = 1; ok && i <= w.dim(); ++i) {
    int64_t a = w.shape()[w.dim() - i], b = shape[shape.rank() - i];
    ok = a == b || a == 1;
  }
  LATENT_CHECK(ok, op, ": ", what, " of shape ", w.shape(), " does not broadcast to the input shape ", shape);
}

// PyTorch errors on probabilities outside [0, 1] (NaN included) instead of returning NaN.
template <typename T>
void check_unit_interval(const char* op, const char* what, const Tensor<T>& t) {
  NoGradGuard no_grad;
  auto c = t.detach().contiguous();
  std::vector<T> host;
  if (c.is_cuda()) host = c.to_vector();  // one copy to the host, which waits for the device
  const T* p = c.is_cuda() ? host.data() : c.data();
  for (int64_t i = 0; i < c.numel(); ++i)
    LATENT_CHECK(p[i] >= T(0) && p[i] <= T(1), op, ": all elements of ", what, " should be between 0 and 1, got ",
                 p[i], " at flat index ", i, " (", what, " shape ", t.shape(), ")");
}

// -(y log x + (1 - y) log(1 - x)) with each log clamped at -100 (PyTorch's forward), and
// PyTorch's gradients: (x - y) / max(x (1 - x), eps) for x, -logit(x) for y. Both are
// written in differentiable ops, so this op has second derivatives too. eps is PyTorch's
// EPSILON, a float 1e-12 also for doubles: at x = 0 or 1 the gradient is 1 / eps, and
// the double 1e-12 would be 4e-9 off PyTorch's.
template <typename T>
Tensor<T> bce_elementwise(const Tensor<T>& x, const Tensor<T>& y) {
  auto out = latent::detail::map_pointwise<pointwise::Binary::BinaryCrossEntropy>("binary_cross_entropy", x, y);
  autograd::record("binary_cross_entropy", out, {&x, &y},
                   [sx = autograd::SavedVariable<T>(x, false), sy = autograd::SavedVariable<T>(y, false)](
                       const Tensor<T>& g, autograd::NeedsMask m) {
    latent::detail::Grads<T> r(2);
    auto xv = sx.unpack("binary_cross_entropy");
    if (autograd::needs(m, 0)) {
      auto yv = sy.unpack("binary_cross_entropy");
      r[0] = mul(g, div(sub(xv, yv), clamp_min(mul(rsub(1.0, xv), xv), static_cast<double>(1e-12f))));
    }
    if (autograd::needs(m, 1)) r[1] = neg(mul(g, log(div(xv, rsub(1.0, xv)))));
    return r;
  });
  return out;
}

// log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), stable for any x; derivative sigmoid(-x).
template <typename T>
Tensor<T> log_sigmoid(const Tensor<T>& x) {
  return pointwise_with_input<pointwise::Unary::LogSigmoid>("log_sigmoid", x, [](const Tensor<T>& g,
                                                                                  const Tensor<T>& xv) {
    return mul(g, sigmoid(neg(xv)));
  });
}

// Class-index targets resolved once for nll_loss and cross_entropy.
template <typename T>
struct ClassTargets {
  int class_dim = 0;
  int64_t classes = 0;
  IndexTensor index;      // gather's index: the targets, ignored ones set to 0, class dim kept as 1
  Tensor<T> weight;       // per target: weight[target] (1 without a weight), 0 where ignored
  Tensor<T> valid;        // per target: 1, or 0 where ignored
  double total_weight = 0;  // sum of `weight`: what "mean" divides by
};

template <typename T>
int class_dim_of(const char* op, const Tensor<T>& input) {
  LATENT_CHECK(input.defined(), op, ": got an undefined input tensor");
  LATENT_CHECK(input.dim() >= 1, op, ": expected input of shape (C), (N, C) or (N, C, d1, ...), got shape ",
               input.shape());
  return input.dim() == 1 ? 0 : 1;
}

template <typename T>
void check_class_weight(const char* op, const Tensor<T>& weight, int64_t classes) {
  LATENT_CHECK(!weight.defined() || (weight.dim() == 1 && weight.numel() == classes), op,
               ": weight should have one entry per class (", classes, ") but has shape ", weight.shape());
}

template <typename T>
ClassTargets<T> class_targets(const char* op, const Tensor<T>& input, const IndexTensor& target,
                              const Tensor<T>& weight, int64_t ignore_index) {
  ClassTargets<T> ct;
  ct.class_dim = class_dim_of(op, input);
  LATENT_CHECK(target.defined(), op, ": got an undefined target tensor");
  Shape expect, index_shape;
  for (int i = 0; i < input.dim(); ++i) {
    if (i != ct.class_dim) expect.push_back(input.shape()[i]);
    index_shape.push_back(i == ct.class_dim ? 1 : input.shape()[i]);
  }
  LATENT_CHECK(target.shape() == expect, op, ": expected a target of class indices of shape ", expect,
               " for input of shape ", input.shape(), ", got target shape ", target.shape());
  ct.classes = input.shape()[ct.class_dim];
  check_class_weight(op, weight, ct.classes);
  std::vector<T> w;
  if (weight.defined()) w = weight.detach().to_vector();
  auto t = target.to_vector();
  std::vector<int64_t> index(t.size());
  std::vector<T> tw(t.size()), valid(t.size());
  for (size_t n = 0; n < t.size(); ++n) {
    if (t[n] == ignore_index) continue;  // index 0, weight 0, not valid
    LATENT_CHECK(t[n] >= 0 && t[n] < ct.classes, op, ": target ", t[n], " at flat index ", n,
                 " is out of bounds: expected a class index in [0, ", ct.classes, ") or ignore_index ",
                 ignore_index, " (input shape ", input.shape(), ", target shape ", target.shape(), ")");
    index[n] = t[n];
    tw[n] = w.empty() ? T(1) : w[static_cast<size_t>(t[n])];
    valid[n] = T(1);
    ct.total_weight += static_cast<double>(tw[n]);
  }
  ct.index = from_vector<int64_t>(index, index_shape, input.device());
  ct.weight = from_vector<T>(tw, expect, input.device());
  ct.valid = from_vector<T>(valid, expect, input.device());
  return ct;
}

// -weight[target] * input[target] per target, 0 where ignored.
template <typename T>
Tensor<T> nll_elements(const Tensor<T>& logp, const ClassTargets<T>& ct) {
  auto picked = gather(logp, ct.class_dim, ct.index).squeeze(ct.class_dim);
  // where, not a multiplication by 0: an ignored position may hold -inf.
  return where(ct.valid, neg(mul(picked, ct.weight)), zeros<T>(Shape{}, logp.device()));
}

template <typename T>
Tensor<T> reduce_by_weight(const Tensor<T>& elements, Reduction r, double total_weight) {
  if (r == Reduction::None) return elements;
  if (r == Reduction::Sum) return sum(elements);
  return divide_total(sum(elements), total_weight);
}

// A per-class weight viewed to broadcast along the class dim of `input`.
template <typename T>
Tensor<T> class_weight_view(const Tensor<T>& weight, const Tensor<T>& input, int class_dim) {
  Shape s;
  for (int i = 0; i < input.dim(); ++i) s.push_back(i == class_dim ? weight.numel() : 1);
  return weight.reshape(s);
}

inline void check_label_smoothing(const char* op, double label_smoothing) {
  LATENT_CHECK(label_smoothing >= 0 && label_smoothing <= 1, op, ": label_smoothing must be between 0.0 and 1.0, got ",
               label_smoothing);
}

}  // namespace loss_detail

// -w (y log x + (1 - y) log(1 - x)), logs clamped at -100 as PyTorch, so x = 0 or 1 gives
// a finite loss (100 per wrong certain prediction) and the gradient stays finite
// (+-1e12 there). input and target in [0, 1] (checked), same shape; weight broadcasts to
// the input and is not differentiated (as PyTorch).
template <typename T>
Tensor<T> binary_cross_entropy(const Tensor<T>& input, const Tensor<T>& target, const Tensor<T>& weight = {},
                               const std::string& reduction = "mean") {
  const char* op = "binary_cross_entropy";
  auto r = loss_detail::parse_reduction(op, reduction);
  loss_detail::check_same_shape(op, input, target);
  loss_detail::check_unit_interval(op, "input", input);
  loss_detail::check_unit_interval(op, "target", target);
  auto loss = loss_detail::bce_elementwise(input, target);
  if (weight.defined()) {
    loss_detail::check_broadcasts_to(op, "weight", weight, input.shape());
    loss = mul(loss, weight.detach());
  }
  return loss_detail::reduce(loss, r);
}

// Binary cross entropy on logits x, stable for any x (PyTorch's formula):
//   w ((1 - y) x - (1 + (pos_weight - 1) y) log_sigmoid(x))
// pos_weight (e.g. shape (C) for (N, C) inputs) scales the positive term. Differentiable
// in input and target; weight and pos_weight are constants (as PyTorch, which refuses
// them with requires_grad).
template <typename T>
Tensor<T> binary_cross_entropy_with_logits(const Tensor<T>& input, const Tensor<T>& target,
                                           const Tensor<T>& weight = {}, const std::string& reduction = "mean",
                                           const Tensor<T>& pos_weight = {}) {
  const char* op = "binary_cross_entropy_with_logits";
  auto r = loss_detail::parse_reduction(op, reduction);
  loss_detail::check_same_shape(op, input, target);
  auto log_sig = loss_detail::log_sigmoid(input);
  if (pos_weight.defined()) {
    loss_detail::check_broadcasts_to(op, "pos_weight", pos_weight, input.shape());
    log_sig = mul(log_sig, add(mul(sub(pos_weight.detach(), 1.0), target), 1.0));
  }
  auto loss = sub(mul(rsub(1.0, target), input), log_sig);
  if (weight.defined()) {
    loss_detail::check_broadcasts_to(op, "weight", weight, input.shape());
    loss = mul(loss, weight.detach());
  }
  return loss_detail::reduce(loss, r);
}

// (x - y)^2
template <typename T>
Tensor<T> mse_loss(const Tensor<T>& input, const Tensor<T>& target, const std::string& reduction = "mean") {
  auto r = loss_detail::parse_reduction("mse_loss", reduction);
  loss_detail::check_same_shape("mse_loss", input, target);
  auto d = sub(input, target);
  return loss_detail::reduce(mul(d, d), r);
}

// |x - y|; the gradient at x == y is 0 (as PyTorch).
template <typename T>
Tensor<T> l1_loss(const Tensor<T>& input, const Tensor<T>& target, const std::string& reduction = "mean") {
  auto r = loss_detail::parse_reduction("l1_loss", reduction);
  loss_detail::check_same_shape("l1_loss", input, target);
  return loss_detail::reduce(abs(sub(input, target)), r);
}

// With z = |x - y|: 0.5 z^2 / beta where z < beta, else z - 0.5 beta. beta == 0 is l1_loss.
template <typename T>
Tensor<T> smooth_l1_loss(const Tensor<T>& input, const Tensor<T>& target, const std::string& reduction = "mean",
                         double beta = 1.0) {
  const char* op = "smooth_l1_loss";
  auto r = loss_detail::parse_reduction(op, reduction);
  LATENT_CHECK(beta >= 0, op, ": beta must be non-negative, got ", beta);
  loss_detail::check_same_shape(op, input, target);
  auto d = sub(input, target);
  auto z = abs(d);
  if (beta == 0) return loss_detail::reduce(z, r);
  // d * d rather than z * z: the same value, and a second derivative of 1 / beta at d == 0 too.
  auto quadratic = div(mul(mul(d, d), 0.5), beta);
  auto linear = sub(z, 0.5 * beta);
  return loss_detail::reduce(where(lt(z, beta), quadratic, linear), r);
}

// With z = |x - y|: 0.5 z^2 where z < delta, else delta (z - 0.5 delta). delta > 0.
template <typename T>
Tensor<T> huber_loss(const Tensor<T>& input, const Tensor<T>& target, const std::string& reduction = "mean",
                     double delta = 1.0) {
  const char* op = "huber_loss";
  auto r = loss_detail::parse_reduction(op, reduction);
  LATENT_CHECK(delta > 0, op, ": delta must be positive, got ", delta);
  loss_detail::check_same_shape(op, input, target);
  auto d = sub(input, target);
  auto z = abs(d);
  auto quadratic = mul(mul(d, d), 0.5);
  auto linear = mul(sub(z, 0.5 * delta), delta);
  return loss_detail::reduce(where(lt(z, delta), quadratic, linear), r);
}

// Negative log likelihood of log-probabilities `input` (C), (N, C) or (N, C, d1, ...) at class
// indices `target` (), (N) or (N, d1, ...): -weight[t] * input[t]. Targets equal to
// ignore_index contribute nothing; "mean" divides by the summed weight of the other
// targets (nan when that is 0, as PyTorch). weight (C) is not differentiated.
template <typename T>
Tensor<T> nll_loss(const Tensor<T>& input, const IndexTensor& target, const Tensor<T>& weight = {},
                   int64_t ignore_index = -100, const std::string& reduction = "mean") {
  auto r = loss_detail::parse_reduction("nll_loss", reduction);
  auto ct = loss_detail::class_targets("nll_loss", input, target, weight, ignore_index);
  return loss_detail::reduce_by_weight(loss_detail::nll_elements(input, ct), r, ct.total_weight);
}

// Cross entropy of logits `input` (C), (N, C) or (N, C, d1, ...) against class indices:
// nll_loss(log_softmax(input, class dim), ...). With label_smoothing e it is PyTorch's
//   (1 - e) nll + (e / C) smooth,   smooth = -sum_c weight[c] log_softmax(input)_c
// per target (0 where ignored), both reduced alike ("mean": over the summed target weight).
template <typename T>
Tensor<T> cross_entropy(const Tensor<T>& input, const IndexTensor& target, const Tensor<T>& weight = {},
                        int64_t ignore_index = -100, const std::string& reduction = "mean",
                        double label_smoothing = 0.0) {
  const char* op = "cross_entropy";
  auto r = loss_detail::parse_reduction(op, reduction);
  loss_detail::check_label_smoothing(op, label_smoothing);
  auto ct = loss_detail::class_targets(op, input, target, weight, ignore_index);
  auto logp = log_softmax(input, ct.class_dim);
  auto nll = loss_detail::reduce_by_weight(loss_detail::nll_elements(logp, ct), r, ct.total_weight);
  if (label_smoothing == 0) return nll;
  auto weighted = weight.defined() ? mul(logp, loss_detail::class_weight_view(weight.detach(), logp, ct.class_dim))
                                   : logp;
  auto smooth = where(ct.valid, neg(sum(weighted, {ct.class_dim})), zeros<T>(Shape{}, input.device()));
  smooth = loss_detail::reduce_by_weight(smooth, r, ct.total_weight);
  return add(mul(nll, 1.0 - label_smoothing), mul(smooth, label_smoothing / static_cast<double>(ct.classes)));
}

// Cross entropy against class probabilities `target` of the input's shape:
//   -sum_c weight[c] target_c log_softmax(input)_c  per sample,
// with label_smoothing mixing the target with the uniform distribution first. "mean"
// divides by the number of samples (numel / C), not by the weights (as PyTorch).
// Differentiable in target too. ignore_index does not apply to probabilities (PyTorch
// refuses a non-negative one).
template <typename T>
Tensor<T> cross_entropy(const Tensor<T>& input, const Tensor<T>& target, const Tensor<T>& weight = {},
                        int64_t ignore_index = -100, const std::string& reduction = "mean",
                        double label_smoothing = 0.0) {
  const char* op = "cross_entropy";
  auto r = loss_detail::parse_reduction(op, reduction);
  loss_detail::check_label_smoothing(op, label_smoothing);
  int cd = loss_detail::class_dim_of(op, input);
  LATENT_CHECK(target.defined() && target.shape() == input.shape(), op,
               ": a target of class probabilities must have the input's shape ", input.shape(), ", got ",
               target.defined() ? target.shape() : Shape{});
  LATENT_CHECK(ignore_index < 0, op, ": ignore_index (", ignore_index,
               ") is not supported for a target of class probabilities");
  const int64_t classes = input.shape()[cd];
  loss_detail::check_class_weight(op, weight, classes);
  auto logp = log_softmax(input, cd);
  auto tgt = label_smoothing > 0 ? add(mul(target, 1.0 - label_smoothing), label_smoothing / static_cast<double>(classes))
                                 : target;
  auto prod = mul(logp, tgt);
  if (weight.defined()) prod = mul(prod, loss_detail::class_weight_view(weight.detach(), logp, cd));
  if (r == loss_detail::Reduction::None) return neg(sum(prod, {cd}));
  auto total = neg(sum(prod));
  if (r == loss_detail::Reduction::Sum) return total;
  return loss_detail::divide_total(total, classes ? static_cast<double>(input.numel() / classes) : 0.0);
}

// Kullback-Leibler divergence with `input` log-probabilities: per element
//   target (log target - input)              (log_target false; 0 where target == 0)
//   exp(target) (target - input)             (log_target true)
// "batchmean" divides the sum by the batch size input.size(0) -- the true KL divergence
// per sample; "mean" divides by the element count (as PyTorch, which warns about it).
template <typename T>
Tensor<T> kl_div(const Tensor<T>& input, const Tensor<T>& target, const std::string& reduction = "mean",
                 bool log_target = false) {
  const char* op = "kl_div";
  auto r = loss_detail::parse_reduction(op, reduction, true);
  loss_detail::check_same_shape(op, input, target);
  Tensor<T> loss;
  if (log_target) {
    loss = mul(exp(target), sub(target, input));
  } else {
    // xlogy(t, t): 0 at t == 0. log sees 1 there, so neither value nor gradient is 0 * -inf.
    auto safe = where(eq(target, 0.0), ones<T>(Shape{}, target.device()), target);
    loss = sub(mul(target, log(safe)), mul(target, input));
  }
  if (r != loss_detail::Reduction::BatchMean) return loss_detail::reduce(loss, r);
  auto total = sum(loss);
  return input.dim() == 0 ? total : loss_detail::divide_total(total, static_cast<double>(input.shape()[0]));
}

}  // namespace latent::nn::functional
