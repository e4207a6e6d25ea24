// Printing in PyTorch's style: nested brackets, 4 decimals (or scientific when the range
// needs it), elided with "..." above 1000 elements, then device/dtype/grad suffixes.
#pragma once
#include <cmath>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "tensor.hpp"

namespace latent {

namespace detail {
struct NumberFormat {
  bool integral = true, scientific = false;
};

template <typename T>
std::string format_number(T v, const NumberFormat& f) {
  std::ostringstream s;
  if constexpr (std::is_integral_v<T>) {
    s << v;
  } else if (std::isnan(v)) {
    s << "nan";
  } else if (std::isinf(v)) {
    s << (v > 0 ? "inf" : "-inf");
  } else if (f.integral) {
    s << std::fixed << std::setprecision(0) << v << '.';
  } else if (f.scientific) {
    s << std::scientific << std::setprecision(4) << v;
  } else {
    s << std::fixed << std::setprecision(4) << v;
  }
  return s.str();
}

template <typename T>
void print_dims(std::ostream& os, const std::vector<T>& v, const Shape& shape, int dim, int64_t offset,
                const NumberFormat& f, size_t width, bool elide, int indent) {
  const int64_t edge = 3;
  int64_t n = shape[dim];
  int64_t inner = 1;
  for (int d = dim + 1; d < shape.rank(); ++d) inner *= shape[d];
  os << '[';
  for (int64_t i = 0; i < n; ++i) {
    if (elide && n > 2 * edge && i == edge) {
      os << "...";
      if (dim == shape.rank() - 1) os << ", ";
      else os << ",\n" << std::string(indent + 1, ' ');
      i = n - edge - 1;
      continue;
    }
    if (dim == shape.rank() - 1) {
      std::string s = format_number(v[offset + i], f);
      os << std::string(width > s.size() ? width - s.size() : 0, ' ') << s;
      if (i + 1 < n) os << ", ";
    } else {
      print_dims(os, v, shape, dim + 1, offset + i * inner, f, width, elide, indent + 1);
      if (i + 1 < n) os << ',' << std::string(shape.rank() - dim - 1, '\n') << std::string(indent + 1, ' ');
    }
  }
  os << ']';
}
}  // namespace detail

template <typename T>
std::ostream& operator<<(std::ostream& os, const Tensor<T>& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  std::vector<T> v = t.to_vector();
  detail::NumberFormat f;
  if constexpr (!std::is_integral_v<T>) {
    double max_abs = 0, min_abs = INFINITY;
    for (T x : v) {
      if (!std::isfinite(x)) continue;
      if (x != std::round(x)) f.integral = false;
      double a = std::abs(static_cast<double>(x));
      max_abs = std::max(max_abs, a);
      if (a > 0) min_abs = std::min(min_abs, a);
    }
    if (!f.integral) f.scientific = max_abs >= 1e8 || min_abs < 1e-4 || (min_abs < INFINITY && max_abs / min_abs > 1e3);
  }
  bool elide = t.numel() > 1000;
  size_t width = 0;
  for (T x : v) width = std::max(width, detail::format_number(x, f).size());
  os << "tensor(";
  if (t.dim() == 0) {
    os << detail::format_number(v[0], f);
  } else if (t.numel() == 0) {
    os << "[]";
  } else {
    detail::print_dims(os, v, t.shape(), 0, 0, f, width, elide, 7);
  }
  if (t.numel() == 0 || elide) os << ", size=" << t.shape();
  if (!t.device().is_cpu()) os << ", device='" << t.device() << "'";
  if constexpr (!std::is_same_v<T, float>) os << ", dtype=" << dtype_name<T>();
  if constexpr (FloatingElement<T>) {
    if (t.grad_fn()) os << ", grad_fn=<" << t.grad_fn()->name << ">";
    else if (t.requires_grad()) os << ", requires_grad=True";
  }
  return os << ')';
}

}  // namespace latent
