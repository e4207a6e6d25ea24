// Element-wise ops with NumPy/PyTorch broadcasting. Each op computes its result and
// records its backward right below it; backward formulas use these same differentiable
// ops, so gradients of gradients work. Glossary: x, a, b inputs; y output; g = dL/dy.
#pragma once
#include <cmath>

#include "../backend/cpu/activation.hpp"
#include "view.hpp"

namespace latent {

namespace detail {
// out = f(x; p0, p1) for a function of backend/pointwise.hpp, on either device.
template <pointwise::Unary fn, typename T>
Tensor<T> map_pointwise(const char* op, const Tensor<T>& x, double p0 = 0, double p1 = 0) {
  check_defined(op, x);
  auto out = Tensor<T>::empty(x.shape(), x.device());
  if (x.device().is_cuda()) {
    if constexpr (is_cuda_type<T>) {
      if (out.numel() == 0) return out;
      auto d = strided_desc(x.shape(), out, x.strides(), 0);
      if constexpr (std::is_same_v<T, float>)
        cuda::backend().unary_f32(x.device().index, fn, out.data(), x.data(), d, p0, p1);
      else
        cuda::backend().unary_f64(x.device().index, fn, out.data(), x.data(), d, p0, p1);
      return out;
    } else {
      cuda_type_error(op, x);
    }
  }
  cpu::unary_loop(x.shape(), out.data(), out.strides(), x.data(), x.strides(), pointwise::UnaryFn<fn, T>{p0, p1});
  return out;
}

// out = f(a, b) with broadcasting for a function of backend/pointwise.hpp, on either device.
template <pointwise::Binary fn, typename T>
Tensor<T> map_pointwise(const char* op, const Tensor<T>& a, const Tensor<T>& b) {
  check_defined(op, a);
  check_defined(op, b);
  check_same_device(op, a, b);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  auto out = Tensor<T>::empty(shape, a.device());
  Strides sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
  if (a.device().is_cuda()) {
    if constexpr (is_cuda_type<T>) {
      if (out.numel() == 0) return out;
      auto d = strided_desc(shape, out, sa, 0, &sb, 0);
      if constexpr (std::is_same_v<T, float>)
        cuda::backend().binary_f32(a.device().index, fn, out.data(), a.data(), b.data(), d);
      else
        cuda::backend().binary_f64(a.device().index, fn, out.data(), a.data(), b.data(), d);
      return out;
    } else {
      cuda_type_error(op, a);
    }
  }
  cpu::binary_loop(shape, out.data(), out.strides(), a.data(), sa, b.data(), sb, pointwise::BinaryFn<fn, T>{});
  return out;
}

template <typename T>
using Grads = std::vector<Tensor<T>>;
}  // namespace detail

// ---------------------------------------------------------------- binary arithmetic
template <typename T> Tensor<T> mul(const Tensor<T>& a, double s);
template <typename T> Tensor<T> add(const Tensor<T>& a, double s);
template <typename T> Tensor<T> neg(const Tensor<T>& x);

// y = a + b
template <typename T>
Tensor<T> add(const Tensor<T>& a, const Tensor<T>& b) {
  auto out = detail::map_pointwise<pointwise::Binary::Add>("add", a, b);
  Shape sa = a.shape(), sb = b.shape();
  autograd::record("add", out, {&a, &b}, [sa, sb](const Tensor<T>& g, autograd::NeedsMask m) {
    return detail::Grads<T>{autograd::needs(m, 0) ? sum_to(g, sa) : Tensor<T>(),
                            autograd::needs(m, 1) ? sum_to(g, sb) : Tensor<T>()};
  });
  return out;
}

// y = a - b
template <typename T>
Tensor<T> sub(const Tensor<T>& a, const Tensor<T>& b) {
  auto out = detail::map_pointwise<pointwise::Binary::Sub>("sub", a, b);
  Shape sa = a.shape(), sb = b.shape();
  autograd::record("sub", out, {&a, &b}, [sa, sb](const Tensor<T>& g, autograd::NeedsMask m) {
    return detail::Grads<T>{autograd::needs(m, 0) ? sum_to(g, sa) : Tensor<T>(),
                            autograd::needs(m, 1) ? sum_to(neg(g), sb) : Tensor<T>()};
  });
  return out;
}

// y = a * b
template <typename T>
Tensor<T> mul(const Tensor<T>& a, const Tensor<T>& b) {
  auto out = detail::map_pointwise<pointwise::Binary::Mul>("mul", a, b);
  autograd::record("mul", out, {&a, &b},
                   [sa = autograd::SavedVariable<T>(a, false), sb = autograd::SavedVariable<T>(b, false),
                    shape_a = a.shape(), shape_b = b.shape()](const Tensor<T>& g, autograd::NeedsMask m) {
    return detail::Grads<T>{autograd::needs(m, 0) ? sum_to(mul(g, sb.unpack("mul")), shape_a) : Tensor<T>(),
                            autograd::needs(m, 1) ? sum_to(mul(g, sa.unpack("mul")), shape_b) : Tensor<T>()};
  });
  return out;
}

// y = a / b
template <typename T>
Tensor<T> div(const Tensor<T>& a, const Tensor<T>& b) {
  auto out = detail::map_pointwise<pointwise::Binary::Div>("div", a, b);
  autograd::record("div", out, {&a, &b},
                   [sa = autograd::SavedVariable<T>(a, false), sb = autograd::SavedVariable<T>(b, false),
                    shape_a = a.shape(), shape_b = b.shape()](const Tensor<T>& g, autograd::NeedsMask m) {
    detail::Grads<T> r(2);
    Tensor<T> bv = sb.unpack("div");
    if (autograd::needs(m, 0)) r[0] = sum_to(div(g, bv), shape_a);
    if (autograd::needs(m, 1)) r[1] = sum_to(neg(div(mul(g, sa.unpack("div")), mul(bv, bv))), shape_b);
    return r;
  });
  return out;
}

// ---------------------------------------------------------------- comparisons (masks, no grad)
// Masks are tensors of the same element type holding 0 or 1.
template <typename T> Tensor<T> eq(const Tensor<T>& a, const Tensor<T>& b) {
  return detail::map_pointwise<pointwise::Binary::Eq>("eq", a, b);
}
template <typename T> Tensor<T> ne(const Tensor<T>& a, const Tensor<T>& b) {
  return detail::map_pointwise<pointwise::Binary::Ne>("ne", a, b);
}
template <typename T> Tensor<T> lt(const Tensor<T>& a, const Tensor<T>& b) {
  return detail::map_pointwise<pointwise::Binary::Lt>("lt", a, b);
}
template <typename T> Tensor<T> le(const Tensor<T>& a, const Tensor<T>& b) {
  return detail::map_pointwise<pointwise::Binary::Le>("le", a, b);
}
template <typename T> Tensor<T> gt(const Tensor<T>& a, const Tensor<T>& b) {
  return detail::map_pointwise<pointwise::Binary::Gt>("gt", a, b);
}
template <typename T> Tensor<T> ge(const Tensor<T>& a, const Tensor<T>& b) {
  return detail::map_pointwise<pointwise::Binary::Ge>("ge", a, b);
}
template <typename T> Tensor<T> gt(const Tensor<T>& a, double s) {
  return detail::map_pointwise<pointwise::Unary::GtScalar>("gt", a, s);
}
template <typename T> Tensor<T> lt(const Tensor<T>& a, double s) {
  return detail::map_pointwise<pointwise::Unary::LtScalar>("lt", a, s);
}
template <typename T> Tensor<T> ge(const Tensor<T>& a, double s) {
  return detail::map_pointwise<pointwise::Unary::GeScalar>("ge", a, s);
}
template <typename T> Tensor<T> le(const Tensor<T>& a, double s) {
  return detail::map_pointwise<pointwise::Unary::LeScalar>("le", a, s);
}
template <typename T> Tensor<T> eq(const Tensor<T>& a, double s) {
  return detail::map_pointwise<pointwise::Unary::EqScalar>("eq", a, s);
}
template <typename T> Tensor<T> isfinite(const Tensor<T>& x) {
  return detail::map_pointwise<pointwise::Unary::IsFinite>("isfinite", x);
}

// y = cond ? a : b (cond is a mask: nonzero means true); differentiable in a and b.
template <typename T>
Tensor<T> where(const Tensor<T>& cond, const Tensor<T>& a, const Tensor<T>& b) {
  detail::check_same_device("where", cond, a);
  detail::check_same_device("where", a, b);
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  auto out = Tensor<T>::empty(shape, a.device());
  Strides sc = detail::broadcast_strides(cond, shape), sa = detail::broadcast_strides(a, shape),
          sb = detail::broadcast_strides(b, shape);
  if (a.device().is_cuda()) {
    if constexpr (detail::is_cuda_type<T>) {
      if (out.numel() > 0) {
        auto d = detail::strided_desc(shape, out, sc, 0, &sa, 0, &sb);
        if constexpr (std::is_same_v<T, float>)
          cuda::backend().where_f32(a.device().index, out.data(), cond.data(), a.data(), b.data(), d);
        else
          cuda::backend().where_f64(a.device().index, out.data(), cond.data(), a.data(), b.data(), d);
      }
    } else {
      detail::cuda_type_error("where", a);
    }
  } else {
    cpu::ternary_loop(shape, out.data(), out.strides(), cond.data(), sc, a.data(), sa, b.data(), sb,
                      pointwise::WhereFn<T>{});
  }
  autograd::record("where", out, {&a, &b},
                   [c = cond.detach(), sa = a.shape(), sb = b.shape()](const Tensor<T>& g, autograd::NeedsMask m) {
    auto zero = zeros<T>(Shape{}, g.device());
    return detail::Grads<T>{autograd::needs(m, 0) ? sum_to(where(c, g, zero), sa) : Tensor<T>(),
                            autograd::needs(m, 1) ? sum_to(where(c, zero, g), sb) : Tensor<T>()};
  });
  return out;
}

// ---------------------------------------------------------------- tensor-scalar
// y = x * s
template <typename T>
Tensor<T> mul(const Tensor<T>& x, double s) {
  auto out = detail::map_pointwise<pointwise::Unary::MulScalar>("mul", x, s);
  autograd::record("mul_scalar", out, {&x}, [s](const Tensor<T>& g, autograd::NeedsMask) {
    return detail::Grads<T>{mul(g, s)};
  });
  return out;
}
// y = x + s
template <typename T>
Tensor<T> add(const Tensor<T>& x, double s) {
  auto out = detail::map_pointwise<pointwise::Unary::AddScalar>("add", x, s);
  autograd::record("add_scalar", out, {&x}, [](const Tensor<T>& g, autograd::NeedsMask) {
    return detail::Grads<T>{g};
  });
  return out;
}
template <typename T> Tensor<T> sub(const Tensor<T>& x, double s) { return add(x, -s); }
template <typename T> Tensor<T> div(const Tensor<T>& x, double s) { return mul(x, 1.0 / s); }
// y = s - x
template <typename T> Tensor<T> rsub(double s, const Tensor<T>& x) { return add(neg(x), s); }
// y = s / x
template <typename T> Tensor<T> rdiv(double s, const Tensor<T>& x) {
  return mul(pow(x, -1.0), s);
}

// ---------------------------------------------------------------- unary math
template <typename T> Tensor<T> neg(const Tensor<T>& x) {
  auto out = detail::map_pointwise<pointwise::Unary::Neg>("neg", x);
  autograd::record("neg", out, {&x}, [](const Tensor<T>& g, autograd::NeedsMask) {
    return detail::Grads<T>{neg(g)};
  });
  return out;
}

// The shape shared by ops whose backward needs the input x: dx = formula(g, x), with
// y = f(x) for a function f of backend/pointwise.hpp (pointwise_with_input).
template <typename T, typename B>
Tensor<T> record_with_input(const char* op, const Tensor<T>& x, Tensor<T> out, B formula) {
  autograd::record(op, out, {&x}, [op, sx = autograd::SavedVariable<T>(x, false), formula](
                                      const Tensor<T>& g, autograd::NeedsMask) {
    return detail::Grads<T>{formula(g, sx.unpack(op))};
  });
  return out;
}
template <pointwise::Unary fn, typename T, typename B>
Tensor<T> pointwise_with_input(const char* op, const Tensor<T>& x, B formula, double p0 = 0, double p1 = 0) {
  return record_with_input(op, x, detail::map_pointwise<fn>(op, x, p0, p1), formula);
}
// Ops whose backward needs the output y: dx = formula(g, y). The output is saved after
// the node exists, so the save holds only a weak link back to it (no reference cycle).
template <pointwise::Unary fn, typename T, typename B>
Tensor<T> pointwise_with_output(const char* op, const Tensor<T>& x, B formula) {
  auto out = detail::map_pointwise<fn>(op, x);
  auto saved = std::make_shared<autograd::SavedVariable<T>>();
  autograd::record(op, out, {&x}, [op, formula, saved](const Tensor<T>& g, autograd::NeedsMask) {
    return detail::Grads<T>{formula(g, saved->unpack(op))};
  });
  if (out.grad_fn()) *saved = autograd::SavedVariable<T>(out, true);
  return out;
}

template <typename T> Tensor<T> exp(const Tensor<T>& x);
template <typename T> Tensor<T> log(const Tensor<T>& x);
template <typename T> Tensor<T> sigmoid(const Tensor<T>& x);
template <typename T> Tensor<T> sign(const Tensor<T>& x);
template <typename T> Tensor<T> sin(const Tensor<T>& x);
template <typename T> Tensor<T> cos(const Tensor<T>& x);
template <typename T> Tensor<T> pow(const Tensor<T>& x, double p);

template <typename T> Tensor<T> exp(const Tensor<T>& x) {
  return pointwise_with_input<pointwise::Unary::Exp>("exp", x, [](const Tensor<T>& g, const Tensor<T>& xv) { return mul(g, exp(xv)); });
}
template <typename T> Tensor<T> log(const Tensor<T>& x) {
  return pointwise_with_input<pointwise::Unary::Log>("log", x, [](const Tensor<T>& g, const Tensor<T>& xv) { return div(g, xv); });
}
template <typename T> Tensor<T> log1p(const Tensor<T>& x) {
  return pointwise_with_input<pointwise::Unary::Log1p>("log1p", x, [](const Tensor<T>& g, const Tensor<T>& xv) { return div(g, add(xv, 1.0)); });
}
template <typename T> Tensor<T> expm1(const Tensor<T>& x) {
  return pointwise_with_input<pointwise::Unary::Expm1>("expm1", x, [](const Tensor<T>& g, const Tensor<T>& xv) { return mul(g, exp(xv)); });
}
template <typename T> Tensor<T> sqrt(const Tensor<T>& x) {
  return pointwise_with_input<pointwise::Unary::Sqrt>("sqrt", x, [](const Tensor<T>& g, const Tensor<T>& xv) { return mul(g, mul(pow(xv, -0.5), 0.5)); });
}
template <typename T> Tensor<T> rsqrt(const Tensor<T>& x) {
  return pointwise_with_input<pointwise::Unary::Rsqrt>("rsqrt", x, [](const Tensor<T>& g, const Tensor<T>& xv) { return mul(g, mul(pow(xv, -1.5), -0.5)); });
}
template <typename T> Tensor<T> abs(const Tensor<T>& x) {
  return pointwise_with_input<pointwise::Unary::Abs>("abs", x, [](const Tensor<T>& g, const Tensor<T>& xv) { return mul(g, sign(xv)); });
}
template <typename T> Tensor<T> sign(const Tensor<T>& x) {
  return pointwise_with_input<pointwise::Unary::Sign>("sign", x, [](const Tensor<T>& g, const Tensor<T>&) { return zeros_like(g); });
}
template <typename T> Tensor<T> sin(const Tensor<T>& x) {
  return pointwise_with_input<pointwise::Unary::Sin>("sin", x, [](const Tensor<T>& g, const Tensor<T>& xv) { return mul(g, cos(xv)); });
}
template <typename T> Tensor<T> cos(const Tensor<T>& x) {
  return pointwise_with_input<pointwise::Unary::Cos>("cos", x, [](const Tensor<T>& g, const Tensor<T>& xv) { return neg(mul(g, sin(xv))); });
}
// d/dx erf(x) = 2/sqrt(pi) exp(-x^2)
template <typename T> Tensor<T> erf(const Tensor<T>& x) {
  return pointwise_with_input<pointwise::Unary::Erf>("erf", x, [](const Tensor<T>& g, const Tensor<T>& xv) {
    return mul(g, mul(exp(neg(mul(xv, xv))), 1.1283791670955126));
  });
}
template <typename T> Tensor<T> square(const Tensor<T>& x) { return mul(x, x); }

// y = x^p
template <typename T> Tensor<T> pow(const Tensor<T>& x, double p) {
  if (p == 1.0) return mul(x, 1.0);
  return pointwise_with_input<pointwise::Unary::Pow>("pow", x, [p](const Tensor<T>& g, const Tensor<T>& xv) {
    if (p == 0.0) return zeros_like(g);
    return mul(g, mul(pow(xv, p - 1), p));
  }, p);
}

// y = a^b; db is masked to 0 where a == 0 (as PyTorch, avoiding 0 * log 0).
template <typename T> Tensor<T> pow(const Tensor<T>& a, const Tensor<T>& b) {
  auto out = detail::map_pointwise<pointwise::Binary::Pow>("pow", a, b);
  autograd::record("pow", out, {&a, &b},
                   [sa = autograd::SavedVariable<T>(a, false), sb = autograd::SavedVariable<T>(b, false),
                    shape_a = a.shape(), shape_b = b.shape()](const Tensor<T>& g, autograd::NeedsMask m) {
    detail::Grads<T> r(2);
    Tensor<T> av = sa.unpack("pow"), bv = sb.unpack("pow");
    if (autograd::needs(m, 0)) {  // 0 where b == 0 (as PyTorch): not 0 * 0^-1 = NaN at a == 0
      auto da = mul(g, mul(bv, pow(av, sub(bv, 1.0))));
      r[0] = sum_to(where(eq(bv, 0.0), zeros<T>(Shape{}, g.device()), da), shape_a);
    }
    if (autograd::needs(m, 1)) {
      auto zero = zeros<T>(Shape{}, g.device());
      auto safe_log = log(where(eq(av, 0.0), ones<T>(Shape{}, g.device()), av));
      r[1] = sum_to(where(eq(av, 0.0), zero, mul(g, mul(pow(av, bv), safe_log))), shape_b);
    }
    return r;
  });
  return out;
}

// ---------------------------------------------------------------- activations
template <typename T> Tensor<T> tanh(const Tensor<T>& x) {
  return pointwise_with_output<pointwise::Unary::Tanh>("tanh", x, [](const Tensor<T>& g, const Tensor<T>& y) {
    return mul(g, rsub(1.0, mul(y, y)));
  });
}
template <typename T> Tensor<T> sigmoid(const Tensor<T>& x) {
  return pointwise_with_output<pointwise::Unary::Sigmoid>("sigmoid", x, [](const Tensor<T>& g, const Tensor<T>& y) { return mul(g, mul(y, rsub(1.0, y))); });
}
// relu's gradient: g where x > 0, else 0, in one pass. Linear in g with a constant mask,
// so its own gradient (for double backward) is relu_backward again.
template <typename T> Tensor<T> relu_backward(const Tensor<T>& g, const Tensor<T>& x) {
  auto out = detail::map_pointwise<pointwise::Binary::ReluBackward>("relu_backward", g, x);
  autograd::record("relu_backward", out, {&g}, [x0 = x.detach()](const Tensor<T>& gg, autograd::NeedsMask) {
    return detail::Grads<T>{relu_backward(gg, x0)};
  });
  return out;
}
template <typename T> Tensor<T> relu(const Tensor<T>& x) {
  return pointwise_with_input<pointwise::Unary::Relu>("relu", x, [](const Tensor<T>& g, const Tensor<T>& xv) { return relu_backward(g, xv.detach()); });
}
template <typename T> Tensor<T> leaky_relu(const Tensor<T>& x, double slope = 0.01) {
  return pointwise_with_input<pointwise::Unary::LeakyRelu>("leaky_relu", x, [slope](const Tensor<T>& g,
                                                                                      const Tensor<T>& xv) {
    return mul(g, detail::map_pointwise<pointwise::Unary::LeakyReluGrad>("leaky_relu_backward", xv.detach(), slope));
  }, slope);
}
// elu: x for x > 0, alpha (exp(x) - 1) otherwise.
template <typename T> Tensor<T> elu(const Tensor<T>& x, double alpha = 1.0) {
  return pointwise_with_input<pointwise::Unary::Elu>("elu", x, [alpha](const Tensor<T>& g, const Tensor<T>& xv) {
    auto pos = gt(xv.detach(), 0.0);
    return mul(g, where(pos, ones<T>(Shape{}, g.device()), mul(exp(xv), alpha)));
  }, alpha);
}
template <typename T> Tensor<T> gelu_backward(const Tensor<T>& g, const Tensor<T>& x);
// gelu exact: x Phi(x); derivative Phi(x) + x phi(x). "tanh": the tanh approximation.
template <typename T> Tensor<T> gelu(const Tensor<T>& x, const std::string& approximate = "none") {
  if (approximate == "tanh") {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), composed from differentiable ops
    auto inner = mul(add(x, mul(pow(x, 3.0), 0.044715)), 0.7978845608028654);
    return mul(mul(x, add(tanh(inner), 1.0)), 0.5);
  }
  LATENT_CHECK(approximate == "none", "gelu: approximate must be 'none' or 'tanh', got '", approximate, "'");
  Tensor<T> out;
  if constexpr (std::is_same_v<T, float>) {
    detail::check_defined("gelu", x);
    if (x.is_cpu() && x.is_contiguous()) {
      out = Tensor<T>::empty(x.shape(), x.device());
      cpu::gelu_f32(x.data(), out.data(), x.numel());
    }
  }
  if (!out.defined())
    out = detail::map_pointwise<pointwise::Unary::Gelu>("gelu", x);
  autograd::record("gelu", out, {&x}, [sx = autograd::SavedVariable<T>(x, false)](const Tensor<T>& g,
                                                                                  autograd::NeedsMask) {
    return detail::Grads<T>{gelu_backward(g, sx.unpack("gelu"))};
  });
  return out;
}
// gelu's gradient g (Phi(x) + x phi(x)) in one pass. Its own gradient: d/dg is the same
// factor (gelu_backward again), d/dx = g phi(x) (2 - x^2), so every order differentiates.
template <typename T> Tensor<T> gelu_backward(const Tensor<T>& g, const Tensor<T>& x) {
  Tensor<T> out;
  if constexpr (std::is_same_v<T, float>) {
    detail::check_defined("gelu_backward", g);
    detail::check_defined("gelu_backward", x);
    if (g.is_cpu() && x.is_cpu() && g.shape() == x.shape() && g.is_contiguous() && x.is_contiguous()) {
      out = Tensor<T>::empty(x.shape(), x.device());
      cpu::gelu_backward_f32(g.data(), x.data(), out.data(), x.numel());
    }
  }
  if (!out.defined())
    out = detail::map_pointwise<pointwise::Binary::GeluBackward>("gelu_backward", g, x);
  autograd::record("gelu_backward", out, {&g, &x},
                   [sg = autograd::SavedVariable<T>(g, false), sx = autograd::SavedVariable<T>(x, false),
                    shape_g = g.shape(), shape_x = x.shape()](const Tensor<T>& gg, autograd::NeedsMask m) {
    detail::Grads<T> r(2);
    Tensor<T> xv = sx.unpack("gelu_backward");
    if (autograd::needs(m, 0)) r[0] = sum_to(gelu_backward(gg, xv), shape_g);
    if (autograd::needs(m, 1)) {
      auto pdf = mul(exp(mul(mul(xv, xv), -0.5)), 0.3989422804014327);
      auto curvature = mul(pdf, rsub(2.0, mul(xv, xv)));
      r[1] = sum_to(mul(mul(gg, sg.unpack("gelu_backward")), curvature), shape_x);
    }
    return r;
  });
  return out;
}
// silu: x sigmoid(x); derivative s (1 + x (1 - s)).
template <typename T> Tensor<T> silu(const Tensor<T>& x) {
  return pointwise_with_input<pointwise::Unary::Silu>("silu", x, [](const Tensor<T>& g, const Tensor<T>& xv) {
    auto s = sigmoid(xv);
    return mul(g, mul(s, add(mul(xv, rsub(1.0, s)), 1.0)));
  });
}
// softplus: log(1 + exp(beta x)) / beta, linear above beta x > threshold (as PyTorch).
template <typename T> Tensor<T> softplus(const Tensor<T>& x, double beta = 1.0, double threshold = 20.0) {
  return pointwise_with_input<pointwise::Unary::Softplus>("softplus", x, [beta, threshold](const Tensor<T>& g,
                                                                                          const Tensor<T>& xv) {
    auto bx = mul(xv, beta);
    return mul(g, where(gt(bx.detach(), threshold), ones<T>(Shape{}, g.device()), sigmoid(bx)));
  }, beta, threshold);
}
// clamp: the gradient passes where min < x < max (as PyTorch 2.x: 0 at the bounds).
template <typename T> Tensor<T> clamp(const Tensor<T>& x, double lo, double hi) {
  LATENT_CHECK(!(lo > hi), "clamp: min ", lo, " is greater than max ", hi);
  return pointwise_with_input<pointwise::Unary::Clamp>("clamp", x, [lo, hi](const Tensor<T>& g, const Tensor<T>& xv) {
    return mul(g, detail::map_pointwise<pointwise::Unary::ClampGrad>("clamp_backward", xv.detach(), lo, hi));
  }, lo, hi);
}
template <typename T> Tensor<T> clamp_min(const Tensor<T>& x, double lo) {
  return clamp(x, lo, std::numeric_limits<double>::infinity());
}
template <typename T> Tensor<T> clamp_max(const Tensor<T>& x, double hi) {
  return clamp(x, -std::numeric_limits<double>::infinity(), hi);
}

// Element-wise maximum/minimum; ties split the gradient evenly (as PyTorch).
template <typename T> Tensor<T> maximum(const Tensor<T>& a, const Tensor<T>& b) {
  auto out = detail::map_pointwise<pointwise::Binary::Maximum>("maximum", a, b);
  autograd::record("maximum", out, {&a, &b},
                   [a0 = a.detach(), b0 = b.detach(), sa = a.shape(), sb = b.shape()](const Tensor<T>& g, autograd::NeedsMask m) {
    auto wa = detail::map_pointwise<pointwise::Binary::MaximumGrad>("maximum_backward", a0, b0);
    return detail::Grads<T>{autograd::needs(m, 0) ? sum_to(mul(g, wa), sa) : Tensor<T>(),
                            autograd::needs(m, 1) ? sum_to(mul(g, rsub(1.0, wa)), sb) : Tensor<T>()};
  });
  return out;
}
template <typename T> Tensor<T> minimum(const Tensor<T>& a, const Tensor<T>& b) {
  auto out = detail::map_pointwise<pointwise::Binary::Minimum>("minimum", a, b);
  autograd::record("minimum", out, {&a, &b},
                   [a0 = a.detach(), b0 = b.detach(), sa = a.shape(), sb = b.shape()](const Tensor<T>& g, autograd::NeedsMask m) {
    auto wa = detail::map_pointwise<pointwise::Binary::MinimumGrad>("minimum_backward", a0, b0);
    return detail::Grads<T>{autograd::needs(m, 0) ? sum_to(mul(g, wa), sa) : Tensor<T>(),
                            autograd::needs(m, 1) ? sum_to(mul(g, rsub(1.0, wa)), sb) : Tensor<T>()};
  });
  return out;
}

// ---------------------------------------------------------------- operators
template <typename T> Tensor<T> operator+(const Tensor<T>& a, const Tensor<T>& b) { return add(a, b); }
template <typename T> Tensor<T> operator-(const Tensor<T>& a, const Tensor<T>& b) { return sub(a, b); }
template <typename T> Tensor<T> operator*(const Tensor<T>& a, const Tensor<T>& b) { return mul(a, b); }
template <typename T> Tensor<T> operator/(const Tensor<T>& a, const Tensor<T>& b) { return div(a, b); }
template <typename T> Tensor<T> operator-(const Tensor<T>& a) { return neg(a); }
template <typename T> Tensor<T> operator+(const Tensor<T>& a, double s) { return add(a, s); }
template <typename T> Tensor<T> operator-(const Tensor<T>& a, double s) { return add(a, -s); }
template <typename T> Tensor<T> operator*(const Tensor<T>& a, double s) { return mul(a, s); }
template <typename T> Tensor<T> operator/(const Tensor<T>& a, double s) { return mul(a, 1.0 / s); }
template <typename T> Tensor<T> operator+(double s, const Tensor<T>& a) { return add(a, s); }
template <typename T> Tensor<T> operator-(double s, const Tensor<T>& a) { return rsub(s, a); }
template <typename T> Tensor<T> operator*(double s, const Tensor<T>& a) { return mul(a, s); }
template <typename T> Tensor<T> operator/(double s, const Tensor<T>& a) { return rdiv(s, a); }

}  // namespace latent
