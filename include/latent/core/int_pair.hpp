// IntPair: an int or an (h, w) pair, as PyTorch's int-or-tuple arguments of 2-D layers
// (kernel_size, stride, padding, dilation, output_size): conv2d(x, w, b, 2) or
// conv2d(x, w, b, {2, 1}). A default-constructed IntPair is unset (PyTorch's stride=None;
// a std::optional<IntPair> parameter would not accept a braced {h, w}). `single` remembers
// whether one int was given, for reprs that print "2" where PyTorch keeps the int.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>

#include "error.hpp"

namespace latent {

struct IntPair {
  int64_t h = 0, w = 0;
  bool single = true, set = false;
  IntPair() = default;
  IntPair(int64_t v) : h(v), w(v), single(true), set(true) {}  // NOLINT: implicit, as PyTorch's int-or-tuple
  IntPair(int64_t h_, int64_t w_) : h(h_), w(w_), single(false), set(true) {}
  IntPair value_or(const IntPair& fallback) const { return set ? *this : fallback; }
  bool operator==(const IntPair& o) const { return h == o.h && w == o.w; }
  // PyTorch's repr of a tuple, "(2, 1)" (conv layers store tuples).
  std::string str() const { return pair(h, w); }
  // "2" when given as one int, else "(2, 3)" (pooling layers keep what they were given).
  std::string repr() const { return single ? std::to_string(h) : pair(h, w); }
  static std::string pair(int64_t a, int64_t b) { return detail::str_cat("(", a, ", ", b, ")"); }
};
inline std::ostream& operator<<(std::ostream& os, const IntPair& p) { return os << p.str(); }

}  // namespace latent
