// The element-wise functions of the tensor ops, written once for both backends: the CPU
// loops (backend/cpu/loops.hpp) and the CUDA kernels (kernels/elementwise.cuh) apply the
// same functor, so a CUDA result equals the CPU's up to the device's libm (exact for
// arithmetic, comparisons and selections; within a few ulps for exp, log, tanh, erf...).
// An op is named by an enum value (which is also what crosses the CUDA backend's table of
// functions) and its scalar parameters p0, p1 (doubles, converted as each op says).
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define LATENT_HOST_DEVICE __host__ __device__
#else
#define LATENT_HOST_DEVICE
#endif

namespace latent::pointwise {

// The ops, as X-macro lists so that the enums and the CUDA backend's dispatch switch are
// generated from one list and cannot drift apart. Parameters (see UnaryFn): Pow x^p0 (in
// double); LeakyRelu slope p0, LeakyReluGrad 1 or p0; Elu alpha p0; Softplus beta p0,
// threshold p1; Clamp to [p0, p1], ClampGrad 1 inside (p0, p1); *Scalar ops take p0, and
// the comparisons compare x with p0 as a double. Gelu is the exact (erf) form.
#define LATENT_POINTWISE_UNARY_OPS(X)                                                                   \
  X(Neg) X(Exp) X(Log) X(Log1p) X(Expm1) X(Sqrt) X(Rsqrt) X(Abs) X(Sign) X(Sin) X(Cos) X(Erf) X(Pow)   \
  X(Tanh) X(Sigmoid) X(Relu) X(LeakyRelu) X(LeakyReluGrad) X(Elu) X(Gelu) X(Silu) X(Softplus) X(Clamp) \
  X(ClampGrad) X(AddScalar) X(MulScalar) X(GtScalar) X(LtScalar) X(GeScalar) X(LeScalar) X(EqScalar)  \
  X(IsFinite) X(LogSigmoid)
// Comparisons give masks (1 or 0); MaximumGrad/MinimumGrad are d max(a, b) / da (0.5 at
// ties); ReluBackward and GeluBackward take a = g and b = x; BinaryCrossEntropy takes
// a = probability, b = target, each log clamped at -100 as PyTorch.
#define LATENT_POINTWISE_BINARY_OPS(X)                                                                     \
  X(Add) X(Sub) X(Mul) X(Div) X(Pow) X(Eq) X(Ne) X(Lt) X(Le) X(Gt) X(Ge) X(Maximum) X(Minimum) X(MaximumGrad) \
  X(MinimumGrad) X(ReluBackward) X(GeluBackward) X(BinaryCrossEntropy)

#define LATENT_POINTWISE_ENUMERATOR(name) name,
enum class Unary : int { LATENT_POINTWISE_UNARY_OPS(LATENT_POINTWISE_ENUMERATOR) };
enum class Binary : int { LATENT_POINTWISE_BINARY_OPS(LATENT_POINTWISE_ENUMERATOR) };
#undef LATENT_POINTWISE_ENUMERATOR

template <Unary op, typename T>
struct UnaryFn {
  double p0 = 0, p1 = 0;
  LATENT_HOST_DEVICE T operator()(T v) const {
    using std::abs, std::cos, std::erf, std::exp, std::expm1, std::isfinite, std::log, std::log1p, std::pow,
        std::sin, std::sqrt, std::tanh;
    if constexpr (op == Unary::Neg) return -v;
    else if constexpr (op == Unary::Exp) return exp(v);
    else if constexpr (op == Unary::Log) return log(v);
    else if constexpr (op == Unary::Log1p) return log1p(v);
    else if constexpr (op == Unary::Expm1) return expm1(v);
    else if constexpr (op == Unary::Sqrt) return sqrt(v);
    else if constexpr (op == Unary::Rsqrt) return T(1) / sqrt(v);
    else if constexpr (op == Unary::Abs) return abs(v);
    else if constexpr (op == Unary::Sign) return T((v > T(0)) - (v < T(0)));
    else if constexpr (op == Unary::Sin) return sin(v);
    else if constexpr (op == Unary::Cos) return cos(v);
    else if constexpr (op == Unary::Erf) return erf(v);
    else if constexpr (op == Unary::Pow) return static_cast<T>(pow(static_cast<double>(v), p0));
    else if constexpr (op == Unary::Tanh) return tanh(v);
    else if constexpr (op == Unary::Sigmoid) return T(1) / (T(1) + exp(-v));
    else if constexpr (op == Unary::Relu) return v > T(0) ? v : T(0);
    else if constexpr (op == Unary::LeakyRelu) return v > T(0) ? v : v * T(p0);
    else if constexpr (op == Unary::LeakyReluGrad) return v > T(0) ? T(1) : T(p0);
    else if constexpr (op == Unary::Elu) return v > T(0) ? v : T(p0) * expm1(v);
    else if constexpr (op == Unary::Gelu) return T(0.5) * v * (T(1) + erf(v * T(0.70710678118654752)));
    else if constexpr (op == Unary::Silu) return v / (T(1) + exp(-v));
    else if constexpr (op == Unary::Softplus) {
      const T b = T(p0);
      return v * b > T(p1) ? v : log1p(exp(v * b)) / b;
    } else if constexpr (op == Unary::Clamp) {
      const T lo = T(p0), hi = T(p1);
      return v < lo ? lo : (v > hi ? hi : v);
    } else if constexpr (op == Unary::ClampGrad) return T(v > T(p0) && v < T(p1));
    else if constexpr (op == Unary::AddScalar) return v + T(p0);
    else if constexpr (op == Unary::MulScalar) return v * T(p0);
    else if constexpr (op == Unary::GtScalar) return T(v > p0);
    else if constexpr (op == Unary::LtScalar) return T(v < p0);
    else if constexpr (op == Unary::GeScalar) return T(v >= p0);
    else if constexpr (op == Unary::LeScalar) return T(v <= p0);
    else if constexpr (op == Unary::EqScalar) return T(v == p0);
    else if constexpr (op == Unary::IsFinite) return T(isfinite(v));
    else if constexpr (op == Unary::LogSigmoid) return (T(0) < v ? T(0) : v) - log1p(exp(-abs(v)));
    else static_assert(op == Unary::Neg, "pointwise::UnaryFn: op without a formula");
  }
};

template <Binary op, typename T>
struct BinaryFn {
  LATENT_HOST_DEVICE T operator()(T x, T y) const {
    using std::erf, std::exp, std::log, std::log1p, std::pow;
    if constexpr (op == Binary::Add) return x + y;
    else if constexpr (op == Binary::Sub) return x - y;
    else if constexpr (op == Binary::Mul) return x * y;
    else if constexpr (op == Binary::Div) return x / y;
    else if constexpr (op == Binary::Pow) return static_cast<T>(pow(x, y));
    else if constexpr (op == Binary::Eq) return T(x == y);
    else if constexpr (op == Binary::Ne) return T(x != y);
    else if constexpr (op == Binary::Lt) return T(x < y);
    else if constexpr (op == Binary::Le) return T(x <= y);
    else if constexpr (op == Binary::Gt) return T(x > y);
    else if constexpr (op == Binary::Ge) return T(x >= y);
    else if constexpr (op == Binary::Maximum) return x > y ? x : y;
    else if constexpr (op == Binary::Minimum) return x < y ? x : y;
    else if constexpr (op == Binary::MaximumGrad) return x > y ? T(1) : (x == y ? T(0.5) : T(0));
    else if constexpr (op == Binary::MinimumGrad) return x < y ? T(1) : (x == y ? T(0.5) : T(0));
    else if constexpr (op == Binary::ReluBackward) return y > T(0) ? x : T(0);
    else if constexpr (op == Binary::GeluBackward) {
      const T cdf = T(0.5) * (T(1) + erf(y * T(0.70710678118654752)));
      const T pdf = exp(T(-0.5) * y * y) * T(0.39894228040143268);
      return x * (cdf + y * pdf);
    } else if constexpr (op == Binary::BinaryCrossEntropy) {
      const T log_x = static_cast<T>(log(x)), log_1mx = static_cast<T>(log1p(-x));
      // std::max's (a < b ? b : a), which keeps a NaN log
      return (y - T(1)) * (log_1mx < T(-100) ? T(-100) : log_1mx) - y * (log_x < T(-100) ? T(-100) : log_x);
    } else static_assert(op == Binary::Add, "pointwise::BinaryFn: op without a formula");
  }
};

// y = cond != 0 ? a : b
template <typename T>
struct WhereFn {
  LATENT_HOST_DEVICE T operator()(T c, T a, T b) const { return c != T(0) ? a : b; }
};

}  // namespace latent::pointwise
