// gradcheck / gradgradcheck: compare autograd's gradients with central finite differences
// in double precision, for users' own ops as for ours. A failure returns a report naming
// the input, the element and both values (and throws when asked to).
#pragma once
#include <functional>
#include <sstream>

#include "../core/tensor_methods.hpp"

namespace latent::autograd {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  bool raise = false;  // throw latent::Error on failure instead of returning false
};

struct GradcheckResult {
  bool ok = true;
  std::string message;
  explicit operator bool() const { return ok; }
};

using DoubleFn = std::function<Tensor<double>(const std::vector<Tensor<double>>&)>;

namespace detail {
// Numerical d(sum(f(x) * w))/dx for every input element (w fixed random weights make a
// vector-Jacobian product testable with one scalar).
inline GradcheckResult compare(const char* what, const DoubleFn& f, const std::vector<Tensor<double>>& inputs,
                               const Tensor<double>& weights, const std::vector<Tensor<double>>& analytic,
                               const GradcheckOptions& opt) {
  GradcheckResult result;
  // f runs in grad mode: functions that call autograd::grad themselves must still work.
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) continue;
    Tensor<double> x = inputs[i];
    LATENT_CHECK(x.is_contiguous() && x.is_cpu(), "gradcheck: input ", i, " must be a contiguous CPU tensor");
    for (int64_t k = 0; k < x.numel(); ++k) {
      double* p = x.data() + k;
      double saved = *p;
      *p = saved + opt.eps;
      double plus = sum(mul(f(inputs), weights)).item();
      *p = saved - opt.eps;
      double minus = sum(mul(f(inputs), weights)).item();
      *p = saved;
      double numeric = (plus - minus) / (2 * opt.eps);
      double a = analytic[i].defined() ? analytic[i].contiguous().data()[k] : 0.0;
      if (std::abs(a - numeric) > opt.atol + opt.rtol * std::abs(numeric)) {
        std::ostringstream s;
        s << what << ": mismatch for input " << i << " (shape " << x.shape() << ") at flat index " << k
          << ": analytical " << a << " vs numerical " << numeric;
        result.ok = false;
        result.message = s.str();
        if (opt.raise) throw Error(result.message);
        return result;
      }
    }
  }
  return result;
}
}  // namespace detail

// Checks first derivatives of f at `inputs` (those with requires_grad).
inline GradcheckResult gradcheck(const DoubleFn& f, const std::vector<Tensor<double>>& inputs,
                                 GradcheckOptions opt = {}) {
  Tensor<double> out = f(inputs);
  Generator gen(1234);
  Tensor<double> w = randn<double>(out.shape(), gen);
  std::vector<Tensor<double>> diff;
  for (auto& x : inputs)
    if (x.requires_grad()) diff.push_back(x);
  LATENT_CHECK(!diff.empty(), "gradcheck: no input requires grad");
  // An output without history (e.g. sign's gradient, zeros_like(g), under gradgradcheck)
  // has a zero analytical derivative: check that the numerical one is zero too,
  // as PyTorch does, instead of refusing the function.
  if (!out.requires_grad())
    return detail::compare("gradcheck", f, inputs, w, std::vector<Tensor<double>>(inputs.size()), opt);
  auto grads = grad<double>({out}, diff, {w}, std::nullopt, false, true);
  std::vector<Tensor<double>> analytic;
  size_t j = 0;
  for (auto& x : inputs) analytic.push_back(x.requires_grad() ? grads[j++] : Tensor<double>());
  return detail::compare("gradcheck", f, inputs, w, analytic, opt);
}

// Checks second derivatives: gradcheck of (inputs, v) -> vJp(f)(inputs) . v with create_graph.
inline GradcheckResult gradgradcheck(const DoubleFn& f, const std::vector<Tensor<double>>& inputs,
                                     GradcheckOptions opt = {}) {
  Tensor<double> out0 = f(inputs);
  Generator gen(4321);
  Tensor<double> v = randn<double>(out0.shape(), gen).requires_grad_();
  std::vector<size_t> diff_index;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].requires_grad()) diff_index.push_back(i);
  // g(inputs, v) = concatenation of the first-order gradients, flattened.
  DoubleFn first_order = [&](const std::vector<Tensor<double>>& args) {
    GradModeGuard enable(true);  // also when called from the numerical loop's no-grad scope
    std::vector<Tensor<double>> xs(args.begin(), args.end() - 1);
    Tensor<double> out = f(xs);
    std::vector<Tensor<double>> diff;
    for (size_t i : diff_index) diff.push_back(xs[i]);
    auto grads = grad<double>({out}, diff, {args.back()}, true, true, true);
    std::vector<Tensor<double>> flat;
    for (size_t k = 0; k < grads.size(); ++k)
      flat.push_back(grads[k].defined() ? grads[k].reshape(Shape{-1}) : zeros<double>(Shape{diff[k].numel()}));
    return cat(flat, 0);
  };
  std::vector<Tensor<double>> args(inputs.begin(), inputs.end());
  args.push_back(v);
  auto r = gradcheck(first_order, args, opt);
  if (!r.ok) r.message = "gradgradcheck: " + r.message;
  return r;
}

}  // namespace latent::autograd
