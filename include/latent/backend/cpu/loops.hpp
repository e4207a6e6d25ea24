// Strided element-wise loops over up to three operands that share an output shape.
// Operand strides are in elements and may be 0 (broadcast). Dimensions are coalesced
// first, so contiguous and broadcast-row cases become one long vectorisable inner loop.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>

#include "../../core/shape.hpp"
#include "parallel.hpp"

namespace latent::cpu {

template <int N>
struct LoopGeometry {
  Shape shape;                     // coalesced extents
  std::array<Strides, N> strides;  // per operand, coalesced
};

// Merges adjacent dims i-1, i when every operand steps through them as one dim.
template <int N>
LoopGeometry<N> coalesce(const Shape& shape, const std::array<Strides, N>& strides) {
  LoopGeometry<N> g;
  for (int d = 0; d < shape.rank(); ++d) {
    if (shape[d] == 1) continue;  // size-1 dims never move a pointer
    if (g.shape.rank() > 0) {
      int last = g.shape.rank() - 1;
      bool mergeable = true;
      for (int k = 0; k < N; ++k)
        if (g.strides[k][last] != strides[k][d] * shape[d]) { mergeable = false; break; }
      if (mergeable) {
        g.shape[last] *= shape[d];
        for (int k = 0; k < N; ++k) g.strides[k][last] = strides[k][d];
        continue;
      }
    }
    g.shape.push_back(shape[d]);
    for (int k = 0; k < N; ++k) g.strides[k].push_back(strides[k][d]);
  }
  if (g.shape.rank() == 0) {
    g.shape.push_back(1);
    for (int k = 0; k < N; ++k) g.strides[k].push_back(0);
  }
  return g;
}

// Calls inner(ptrs, strides_of_inner_dim, length) over the coalesced iteration space in
// row pieces. Threads split the flat element range, not just the rows, because a
// contiguous tensor coalesces to a single row and would otherwise run on one thread.
// `base` holds each operand's starting element offset; inner receives them advanced.
template <int N, typename Ptrs, typename Inner>
void for_each_row(const LoopGeometry<N>& g, Ptrs base, Inner&& inner) {
  const int rank = g.shape.rank();
  const int64_t inner_len = g.shape[rank - 1];
  std::array<int64_t, N> inner_strides;
  for (int k = 0; k < N; ++k) inner_strides[k] = g.strides[k][rank - 1];
  int64_t rows = 1;
  for (int d = 0; d < rank - 1; ++d) rows *= g.shape[d];
  const int64_t total = rows * inner_len;
  parallel_for(total, 1, [&](int64_t begin, int64_t end) {
    // Decompose `begin` into an index over the outer dims, then step it like an odometer.
    int64_t row = begin / inner_len;
    int64_t col = begin % inner_len;
    std::array<int64_t, kMaxRank> idx{};
    int64_t rem = row;
    for (int d = rank - 2; d >= 0; --d) {
      idx[d] = rem % g.shape[d];
      rem /= g.shape[d];
    }
    for (int64_t pos = begin; pos < end; ++row) {
      const int64_t n = std::min(inner_len - col, end - pos);
      Ptrs p = base;
      for (int k = 0; k < N; ++k) {
        int64_t off = col * inner_strides[k];
        for (int d = 0; d < rank - 1; ++d) off += idx[d] * g.strides[k][d];
        p[k] += off;
      }
      inner(p, inner_strides, n);
      pos += n;
      col = 0;
      for (int d = rank - 2; d >= 0; --d) {
        if (++idx[d] < g.shape[d]) break;
        idx[d] = 0;
      }
    }
  });
}

// out[i] = f(a[i])
template <typename TO, typename TA, typename F>
void unary_loop(const Shape& shape, TO* out, const Strides& so, const TA* a, const Strides& sa, F f) {
  auto g = coalesce<2>(shape, {so, sa});
  for_each_row<2>(g, std::array<int64_t, 2>{0, 0}, [&](std::array<int64_t, 2> off, std::array<int64_t, 2> st, int64_t n) {
    TO* o = out + off[0];
    const TA* x = a + off[1];
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
    } else if (st[0] == 1 && st[1] == 0) {
      TO v = f(x[0]);
      for (int64_t i = 0; i < n; ++i) o[i] = v;
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(x[i * st[1]]);
    }
  });
}

// out[i] = f(a[i], b[i])
template <typename TO, typename TA, typename TB, typename F>
void binary_loop(const Shape& shape, TO* out, const Strides& so, const TA* a, const Strides& sa,
                 const TB* b, const Strides& sb, F f) {
  auto g = coalesce<3>(shape, {so, sa, sb});
  for_each_row<3>(g, std::array<int64_t, 3>{0, 0, 0},
                  [&](std::array<int64_t, 3> off, std::array<int64_t, 3> st, int64_t n) {
    TO* o = out + off[0];
    const TA* x = a + off[1];
    const TB* y = b + off[2];
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
      const TB yv = y[0];
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
      const TA xv = x[0];
      for (int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(x[i * st[1]], y[i * st[2]]);
    }
  });
}

// out[i] = f(a[i], b[i], c[i])
template <typename TO, typename TA, typename TB, typename TC, typename F>
void ternary_loop(const Shape& shape, TO* out, const Strides& so, const TA* a, const Strides& sa,
                  const TB* b, const Strides& sb, const TC* c, const Strides& sc, F f) {
  auto g = coalesce<4>(shape, {so, sa, sb, sc});
  for_each_row<4>(g, std::array<int64_t, 4>{0, 0, 0, 0},
                  [&](std::array<int64_t, 4> off, std::array<int64_t, 4> st, int64_t n) {
    TO* o = out + off[0];
    const TA* x = a + off[1];
    const TB* y = b + off[2];
    const TC* z = c + off[3];
    if (st[0] == 1 && st[1] == 1 && st[2] == 1 && st[3] == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i], z[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(x[i * st[1]], y[i * st[2]], z[i * st[3]]);
    }
  });
}

}  // namespace latent::cpu
