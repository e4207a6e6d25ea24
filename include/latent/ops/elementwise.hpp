// Element-wise ops with NumPy/PyTorch broadcasting. Each op computes its result and
// records its backward right below it; backward formulas use these same differentiable
// ops, so gradients of gradients work. Glossary: x, a, b inputs; y output; g = dL/dy.
#pragma once
#include <cmath>

#include "../backend/cpu/activation.hpp"
#include "view.hpp"

namespace latent {

namespace detail {
template <typename T, typename F>
Tensor<T> map_unary(const char* op, const Tensor<T>& x, F f) {
  check_defined(op, x);
  check_cpu(op, x);
  auto out = Tensor<T>::empty(x.shape(), x.device());
  cpu::unary_loop(x.shape(), out.data(), out.strides(), x.data(), x.strides(), f);
  return out;
}

template <typename T, typename F>
Tensor<T> map_binary(const char* op, const Tensor<T>& a, const Tensor<T>& b, F f,
                     const cuda::BinaryOp* cuda_op = nullptr) {
  check_defined(op, a);
  check_defined(op, b);
  check_same_device(op, a, b);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  auto out = Tensor<T>::empty(shape, a.device());
  Strides sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
  if (a.device().is_cuda()) {
    LATENT_CHECK(cuda_op != nullptr, op, ": not implemented for ", a.device(), " tensors yet (shapes ",
                 a.shape(), " and ", b.shape(), "); move the tensors to the CPU with .cpu()");
    if constexpr (is_cuda_type<T>) {
      if (out.numel() == 0) return out;
      auto d = strided_desc(shape, out, sa, 0, &sb, 0);
      if constexpr (std::is_same_v<T, float>)
        cuda::backend().binary_f32(a.device().index, *cuda_op, out.data(), a.data(), b.data(), d);
      else
        cuda::backend().binary_f64(a.device().index, *cuda_op, out.data(), a.data(), b.data(), d);
    }
    return out;
  }
  cpu::binary_loop(shape, out.data(), out.strides(), a.data(), sa, b.data(), sb, f);
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
  static const cuda::BinaryOp op = cuda::BinaryOp::Add;
  auto out = detail::map_binary("add", a, b, [](T x, T y) { return x + y; }, &op);
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
  static const cuda::BinaryOp op = cuda::BinaryOp::Sub;
  auto out = detail::map_binary("sub", a, b, [](T x, T y) { return x - y; }, &op);
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
  static const cuda::BinaryOp op = cuda::BinaryOp::Mul;
  auto out = detail::map_binary("mul", a, b, [](T x, T y) { return x * y; }, &op);
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
  static const cuda::BinaryOp op = cuda::BinaryOp::Div;
  auto out = detail::map_binary("div", a, b, [](T x, T y) { return x / y; }, &op);
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
  return detail::map_binary("eq", a, b, [](T x, T y) { return T(x == y); });
}
template <typename T> Tensor<T> ne(const Tensor<T>& a, const Tensor<T>& b) {
  return detail::map_binary("ne", a, b, [](T x, T y) { return T(x != y); });
}
template <typename T> Tensor<T> lt(const Tensor<T>& a, const Tensor<T>& b) {
  return detail::map_binary("lt", a, b, [](T x, T y) { return T(x < y); });
}
template <typename T> Tensor<T> le(const Tensor<T>& a, const Tensor<T>& b) {
  return detail::map_binary("le", a, b, [](T x, T y) { return T(x <= y); });
}
template <typename T> Tensor<T> gt(const Tensor<T>& a, const Tensor<T>& b) {
  return detail::map_binary("gt", a, b, [](T x, T y) { return T(x > y); });
}
template <typename T> Tensor<T> ge(const Tensor<T>& a, const Tensor<T>& b) {
  return detail::map_binary("ge", a, b, [](T x, T y) { return T(x >= y); });
}
template <typename T> Tensor<T> gt(const Tensor<T>& a, double s) {
  return detail::map_unary("gt", a, [s](T x) { return T(x > s); });
}
template <typename T> Tensor<T> lt(const Tensor<T>& a, double s) {
  return detail::map_unary("lt", a, [s](T x) { return T(x < s); });
}
template <typename T> Tensor<T> ge(const Tensor<T>& a, double s) {
  return detail::map_unary("ge", a, [s](T x) { return T(x >= s); });
}
template <typename T> Tensor<T> le(const Tensor<T>& a, double s) {
  return detail::map_unary("le", a, [s](T x) { return T(x <= s); });
}
template <typename T> Tensor<T> eq(const Tensor<T>& a, double s) {
  return detail::map_unary("eq", a, [s](T x) { return T(x == s); });
}
template <typename T> Tensor<T> isfinite(const Tensor<T>& x) {
  return detail::map_unary("isfinite", x, [](T v) { return T(std::isfinite(v)); });
}

// y = cond ? a : b (cond is a mask: nonzero means true); differentiable in a and b.
template <typename T>
Tensor<T> where(const Tensor<T>& cond, const Tensor<T>& a, const Tensor<T>& b) {
  detail::check_same_device("where", cond, a);
  detail::check_same_device("where", a, b);
  detail::check_cpu("where", a);
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  auto out = Tensor<T>::empty(shape, a.device());
  cpu::ternary_loop(shape, out.data(), out.strides(), cond.data(), detail::broadcast_strides(cond, shape),
                    a.data(), detail::broadcast_strides(a, shape), b.data(), detail::broadcast_strides(b, shape),
                    [](T c, T x, T y) { return c != T(0) ? x : y; });
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
  if (x.device().is_cuda()) return mul(x, full<T>(Shape{}, T(s), x.device()));
  auto out = detail::map_unary("mul", x, [v = T(s)](T a) { return a * v; });
  autograd::record("mul_scalar", out, {&x}, [s](const Tensor<T>& g, autograd::NeedsMask) {
    return detail::Grads<T>{mul(g, s)};
  });
  return out;
}
// y = x + s
template <typename T>
Tensor<T> add(const Tensor<T>& x, double s) {
  if (x.device().is_cuda()) return add(x, full<T>(Shape{}, T(s), x.device()));
  auto out = detail::map_unary("add", x, [v = T(s)](T a) { return a + v; });
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
  if (x.device().is_cuda()) return mul(x, full<T>(Shape{}, T(-1), x.device()));
  auto out = detail::map_unary("neg", x, [](T v) { return -v; });
  autograd::record("neg", out, {&x}, [](const Tensor<T>& g, autograd::NeedsMask) {
    return detail::Grads<T>{neg(g)};
  });
  return out;
}

// The shape shared by ops whose backward needs the input x: dx = formula(g, x).
template <typename T, typename F, typename B>
Tensor<T> unary_with_input(const char* op, const Tensor<T>& x, F f, B formula) {
  auto out = detail::map_unary(op, x, f);
  autograd::record(op, out, {&x}, [op, sx = autograd::SavedVariable<T>(x, false), formula](
                                      const Tensor<T>& g, autograd::NeedsMask) {
    return detail::Grads<T>{formula(g, sx.unpack(op))};
  });
  return out;
}
// Ops whose backward needs the output y: dx = formula(g, y). The output is saved after
// the node exists, so the save holds only a weak link back to it (no reference cycle).
template <typename T, typename F, typename B>
Tensor<T> unary_with_output(const char* op, const Tensor<T>& x, F f, B formula) {
  auto out = detail::map_unary(op, x, f);
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
  return unary_with_input("exp", x, [](T v) { return std::exp(v); },
                          [](const Tensor<T>& g, const Tensor<T>& xv) { return mul(g, exp(xv)); });
}
template <typename T> Tensor<T> log(const Tensor<T>& x) {
  return unary_with_input("log", x, [](T v) { return std::log(v); },
                          [](const Tensor<T>& g, const Tensor<T>& xv) { return div(g, xv); });
}
template <typename T> Tensor<T> log1p(const Tensor<T>& x) {
  return unary_with_input("log1p", x, [](T v) { return std::log1p(v); },
                          [](const Tensor<T>& g, const Tensor<T>& xv) { return div(g, add(xv, 1.0)); });
}
template <typename T> Tensor<T> expm1(const Tensor<T>& x) {
  return unary_with_input("expm1", x, [](T v) { return std::expm1(v); },
                          [](const Tensor<T>& g, const Tensor<T>& xv) { return mul(g, exp(xv)); });
}
template <typename T> Tensor<T> sqrt(const Tensor<T>& x) {
  return unary_with_input("sqrt", x, [](T v) { return std::sqrt(v); },
                          [](const Tensor<T>& g, const Tensor<T>& xv) { return mul(g, mul(pow(xv, -0.5), 0.5)); });
}
template <typename T> Tensor<T> rsqrt(const Tensor<T>& x) {
  return unary_with_input("rsqrt", x, [](T v) { return T(1) / std::sqrt(v); },
                          [](const Tensor<T>& g, const Tensor<T>& xv) { return mul(g, mul(pow(xv, -1.5), -0.5)); });
}
template <typename T> Tensor<T> abs(const Tensor<T>& x) {
  return unary_with_input("abs", x, [](T v) { return std::abs(v); },
                          [](const Tensor<T>& g, const Tensor<T>& xv) { return mul(g, sign(xv)); });
}
template <typename T> Tensor<T> sign(const Tensor<T>& x) {
  return unary_with_input("sign", x, [](T v) { return T((v > 0) - (v < 0)); },
                          [](const Tensor<T>& g, const Tensor<T>&) { return zeros_like(g); });
}
template <typename T> Tensor<T> sin(const Tensor<T>& x) {
  return unary_with_input("sin", x, [](T v) { return std::sin(v); },
                          [](const Tensor<T>& g, const Tensor<T>& xv) { return mul(g, cos(xv)); });
}
template <typename T> Tensor<T> cos(const Tensor<T>& x) {
  return unary_with_input("cos", x, [](T v) { return std::cos(v); },
                          [](const Tensor<T>& g, const Tensor<T>& xv) { return neg(mul(g, sin(xv))); });
}
// d/dx erf(x) = 2/sqrt(pi) exp(-x^2)
template <typename T> Tensor<T> erf(const Tensor<T>& x) {
  return unary_with_input("erf", x, [](T v) { return std::erf(v); }, [](const Tensor<T>& g, const Tensor<T>& xv) {
    return mul(g, mul(exp(neg(mul(xv, xv))), 1.1283791670955126));
  });
}
template <typename T> Tensor<T> square(const Tensor<T>& x) { return mul(x, x); }

// y = x^p
template <typename T> Tensor<T> pow(const Tensor<T>& x, double p) {
  if (p == 1.0) return mul(x, 1.0);
  return unary_with_input("pow", x, [p](T v) { return static_cast<T>(std::pow(v, p)); },
                          [p](const Tensor<T>& g, const Tensor<T>& xv) {
    if (p == 0.0) return zeros_like(g);
    return mul(g, mul(pow(xv, p - 1), p));
  });
}

// y = a^b; db is masked to 0 where a == 0 (as PyTorch, avoiding 0 * log 0).
template <typename T> Tensor<T> pow(const Tensor<T>& a, const Tensor<T>& b) {
  auto out = detail::map_binary("pow", a, b, [](T x, T y) { return static_cast<T>(std::pow(x, y)); });
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
  return unary_with_output("tanh", x, [](T v) { return std::tanh(v); }, [](const Tensor<T>& g, const Tensor<T>& y) {
    return mul(g, rsub(1.0, mul(y, y)));
  });
}
template <typename T> Tensor<T> sigmoid(const Tensor<T>& x) {
  return unary_with_output("sigmoid", x, [](T v) { return T(1) / (T(1) + std::exp(-v)); },
                           [](const Tensor<T>& g, const Tensor<T>& y) { return mul(g, mul(y, rsub(1.0, y))); });
}
// relu's gradient: g where x > 0, else 0, in one pass. Linear in g with a constant mask,
// so its own gradient (for double backward) is relu_backward again.
template <typename T> Tensor<T> relu_backward(const Tensor<T>& g, const Tensor<T>& x) {
  auto out = detail::map_binary("relu_backward", g, x, [](T gv, T xv) { return xv > T(0) ? gv : T(0); });
  autograd::record("relu_backward", out, {&g}, [x0 = x.detach()](const Tensor<T>& gg, autograd::NeedsMask) {
    return detail::Grads<T>{relu_backward(gg, x0)};
  });
  return out;
}
template <typename T> Tensor<T> relu(const Tensor<T>& x) {
  return unary_with_input("relu", x, [](T v) { return v > T(0) ? v : T(0); },
                          [](const Tensor<T>& g, const Tensor<T>& xv) { return relu_backward(g, xv.detach()); });
}
template <typename T> Tensor<T> leaky_relu(const Tensor<T>& x, double slope = 0.01) {
  return unary_with_input("leaky_relu", x, [s = T(slope)](T v) { return v > T(0) ? v : v * s; },
                          [slope](const Tensor<T>& g, const Tensor<T>& xv) {
    auto factor = detail::map_unary("leaky_relu_backward", xv.detach(),
                                    [s = T(slope)](T v) { return v > T(0) ? T(1) : s; });
    return mul(g, factor);
  });
}
// elu: x for x > 0, alpha (exp(x) - 1) otherwise.
template <typename T> Tensor<T> elu(const Tensor<T>& x, double alpha = 1.0) {
  return unary_with_input("elu", x, [a = T(alpha)](T v) { return v > T(0) ? v : a * std::expm1(v); },
                          [alpha](const Tensor<T>& g, const Tensor<T>& xv) {
    auto pos = gt(xv.detach(), 0.0);
    return mul(g, where(pos, ones<T>(Shape{}, g.device()), mul(exp(xv), alpha)));
  });
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
    out = detail::map_unary("gelu", x, [](T v) { return T(0.5) * v * (T(1) + std::erf(v * T(0.70710678118654752))); });
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
    out = detail::map_binary("gelu_backward", g, x, [](T gv, T xv) {
      const T cdf = T(0.5) * (T(1) + std::erf(xv * T(0.70710678118654752)));
      const T pdf = std::exp(T(-0.5) * xv * xv) * T(0.39894228040143268);
      return gv * (cdf + xv * pdf);
    });
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
  return unary_with_input("silu", x, [](T v) { return v / (T(1) + std::exp(-v)); },
                          [](const Tensor<T>& g, const Tensor<T>& xv) {
    auto s = sigmoid(xv);
    return mul(g, mul(s, add(mul(xv, rsub(1.0, s)), 1.0)));
  });
}
// softplus: log(1 + exp(beta x)) / beta, linear above beta x > threshold (as PyTorch).
template <typename T> Tensor<T> softplus(const Tensor<T>& x, double beta = 1.0, double threshold = 20.0) {
  return unary_with_input("softplus", x, [b = T(beta), th = T(threshold)](T v) {
    return v * b > th ? v : std::log1p(std::exp(v * b)) / b;
  }, [beta, threshold](const Tensor<T>& g, const Tensor<T>& xv) {
    auto bx = mul(xv, beta);
    return mul(g, where(gt(bx.detach(), threshold), ones<T>(Shape{}, g.device()), sigmoid(bx)));
  });
}
// clamp: the gradient passes where min < x < max (as PyTorch 2.x: 0 at the bounds).
template <typename T> Tensor<T> clamp(const Tensor<T>& x, double lo, double hi) {
  LATENT_CHECK(!(lo > hi), "clamp: min ", lo, " is greater than max ", hi);
  return unary_with_input("clamp", x, [l = T(lo), h = T(hi)](T v) { return v < l ? l : (v > h ? h : v); },
                          [lo, hi](const Tensor<T>& g, const Tensor<T>& xv) {
    auto inside = detail::map_unary("clamp_backward", xv.detach(),
                                    [l = T(lo), h = T(hi)](T v) { return T(v > l && v < h); });
    return mul(g, inside);
  });
}
template <typename T> Tensor<T> clamp_min(const Tensor<T>& x, double lo) {
  return clamp(x, lo, std::numeric_limits<double>::infinity());
}
template <typename T> Tensor<T> clamp_max(const Tensor<T>& x, double hi) {
  return clamp(x, -std::numeric_limits<double>::infinity(), hi);
}

// Element-wise maximum/minimum; ties split the gradient evenly (as PyTorch).
template <typename T> Tensor<T> maximum(const Tensor<T>& a, const Tensor<T>& b) {
  auto out = detail::map_binary("maximum", a, b, [](T x, T y) { return x > y ? x : y; });
  autograd::record("maximum", out, {&a, &b},
                   [a0 = a.detach(), b0 = b.detach(), sa = a.shape(), sb = b.shape()](const Tensor<T>& g, autograd::NeedsMask m) {
    auto wa = detail::map_binary("maximum_backward", a0, b0, [](T x, T y) { return x > y ? T(1) : (x == y ? T(0.5) : T(0)); });
    return detail::Grads<T>{autograd::needs(m, 0) ? sum_to(mul(g, wa), sa) : Tensor<T>(),
                            autograd::needs(m, 1) ? sum_to(mul(g, rsub(1.0, wa)), sb) : Tensor<T>()};
  });
  return out;
}
template <typename T> Tensor<T> minimum(const Tensor<T>& a, const Tensor<T>& b) {
  auto out = detail::map_binary("minimum", a, b, [](T x, T y) { return x < y ? x : y; });
  autograd::record("minimum", out, {&a, &b},
                   [a0 = a.detach(), b0 = b.detach(), sa = a.shape(), sb = b.shape()](const Tensor<T>& g, autograd::NeedsMask m) {
    auto wa = detail::map_binary("minimum_backward", a0, b0, [](T x, T y) { return x < y ? T(1) : (x == y ? T(0.5) : T(0)); });
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
