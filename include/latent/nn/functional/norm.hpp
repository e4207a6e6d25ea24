// Normalisation as functions, as torch.nn.functional: batch_norm, instance_norm, group_norm,
// layer_norm (PyTorch's semantics, defaults and running-statistic updates).
//
// Each normalisation is one fused op (statistics, normalisation and affine in one kernel)
// whose first-order backward is a fused kernel too: these are hot paths of conv nets.
// Normalising by running statistics (eval mode) is the same op with constant statistics.
// Under create_graph the backward instead runs the same formula in differentiable ops
// (statistics recomputed from x), so gradients of gradients work; the two paths compute
// the same quantity and the tests check each against finite differences.
//
// Statistics are sums in double over blocks of float lanes (as reduce.hpp's sum), computed
// in two passes (mean, then squared deviations), as ATen's CPU kernels.
//
// Layouts. Batch: x (N, C, *) seen as (N, C, S), statistics per channel over N and S.
// Group: x (N, C, *) as (N, G, C/G * S), statistics per (n, group); instance norm is
// group norm with G = C. Layer: x (..., *normalized_shape) as (rows, K), statistics per row.
#pragma once
#include <cmath>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "../../latent.hpp"

namespace latent::nn::functional {

namespace detail {

// Sum over i in [0, n) of term(i): sixteen T lanes over blocks of 4096, each block's lanes
// folded pairwise in T and its total carried in double, so the loop vectorises and a float
// sum of millions of terms stays accurate. Rows are often short (7x7 feature maps), so the
// fold is cheap and the running total lives in a register.
template <typename T>
inline T fold16(T* a) {
  // Constant trip counts, so each step is one vector add rather than a scalar loop.
  for (int j = 0; j < 8; ++j) a[j] += a[j + 8];
  for (int j = 0; j < 4; ++j) a[j] += a[j + 4];
  return (a[0] + a[2]) + (a[1] + a[3]);
}

template <typename T, typename F>
double lane_sum(int64_t n, F&& term) {
  constexpr int kLanes = 16;
  constexpr int64_t kBlock = 4096;
  double total = 0;
  int64_t i = 0;
  while (i + kLanes <= n) {
    const int64_t end = i + std::min<int64_t>(kBlock, (n - i) / kLanes * kLanes);
    T acc[kLanes] = {};
    for (; i < end; i += kLanes)
      for (int j = 0; j < kLanes; ++j) acc[j] += term(i + j);
    total += fold16(acc);
  }
  for (; i < n; ++i) total += term(i);
  return total;
}

// Two sums in one pass (a backward reads g and x once for both).
template <typename T, typename F0, typename F1>
std::pair<double, double> lane_sum2(int64_t n, F0&& term0, F1&& term1) {
  constexpr int kLanes = 16;
  constexpr int64_t kBlock = 4096;
  double s0 = 0, s1 = 0;
  int64_t i = 0;
  while (i + kLanes <= n) {
    const int64_t end = i + std::min<int64_t>(kBlock, (n - i) / kLanes * kLanes);
    T a0[kLanes] = {}, a1[kLanes] = {};
    for (; i < end; i += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        a0[j] += term0(i + j);
        a1[j] += term1(i + j);
      }
    s0 += fold16(a0);
    s1 += fold16(a1);
  }
  for (; i < n; ++i) {
    s0 += term0(i);
    s1 += term1(i);
  }
  return {s0, s1};
}

// Calls f(r, r % C) for r in [r0, r1): rows of (N, C, S) data are short (7x7 maps), so a
// 64-bit division per row would cost as much as the row.
template <typename F>
void rows_with_channel(int64_t r0, int64_t r1, int64_t C, F&& f) {
  int64_t c = r0 % C;
  for (int64_t r = r0; r < r1; ++r) {
    f(r, c);
    if (++c == C) c = 0;
  }
}

// Adds v (rows of C values, (N, C) row-major) over rows into out (C).
inline void sum_over_rows(const std::vector<double>& v, int64_t C, std::vector<double>& out) {
  out.assign(C, 0.0);
  for (size_t r = 0; r < v.size(); r += C)
    for (int64_t c = 0; c < C; ++c) out[c] += v[r + c];
}

enum class NormKind { Batch, Group, Layer };

struct NormGeometry {
  NormKind kind = NormKind::Batch;
  const char* op = "";  // for autograd messages
  int64_t N = 1, C = 1, S = 1, G = 1;
  double eps = 1e-5;
  Shape x_shape;
  Shape affine_shape;  // where weight and bias broadcast against x
  Shape param_shape;   // weight's and bias's own shape
  // Batch only: the statistics are given constants (running statistics in eval mode), so
  // the op is affine in x and its backward has no terms through the statistics.
  bool fixed_stats = false;

  int64_t stat_groups() const { return kind == NormKind::Batch ? C : kind == NormKind::Group ? N * G : N; }
  int64_t stat_size() const { return kind == NormKind::Batch ? N * S : kind == NormKind::Group ? C / G * S : S; }
};

// Per statistics group: mean, biased variance, 1/sqrt(var + eps).
struct NormStats {
  std::vector<double> mean, var, rstd;
};

template <typename T>
const T* data_or_null(const Tensor<T>& t) {
  return t.defined() ? t.data() : nullptr;
}

// Per-channel mean and biased variance of x (N, C, S) into st (two passes: sums of each
// (n, c) row, then of squared deviations from the channel mean).
template <typename T>
void batch_stats(const T* xp, const NormGeometry& geo, NormStats& st) {
  const int64_t N = geo.N, C = geo.C, S = geo.S, rows = N * C;
  const double inv_size = N * S > 0 ? 1.0 / static_cast<double>(N * S) : 0.0;
  std::vector<double> part(rows);
  parallel_for(rows, S, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* p = xp + r * S;
      part[r] = lane_sum<T>(S, [p](int64_t i) { return p[i]; });
    }
  });
  sum_over_rows(part, C, st.mean);
  for (auto& m : st.mean) m *= inv_size;
  parallel_for(rows, S, [&](int64_t r0, int64_t r1) {
    rows_with_channel(r0, r1, C, [&](int64_t r, int64_t c) {
      const T* p = xp + r * S;
      const T m = static_cast<T>(st.mean[c]);
      part[r] = lane_sum<T>(S, [p, m](int64_t i) { T d = p[i] - m; return d * d; });
    });
  });
  sum_over_rows(part, C, st.var);
  for (int64_t c = 0; c < C; ++c) {
    st.var[c] *= inv_size;
    st.rstd[c] = 1.0 / std::sqrt(st.var[c] + geo.eps);
  }
}

// y = affine(normalise(x)) for contiguous x, w, b (w, b may be null); fills `st` (reads it
// when geo.fixed_stats).
template <typename T>
Tensor<T> norm_forward_kernel(const Tensor<T>& x, const T* w, const T* b, const NormGeometry& geo, NormStats& st) {
  const int64_t N = geo.N, C = geo.C, S = geo.S, groups = geo.stat_groups(), size = geo.stat_size();
  if (!geo.fixed_stats) {
    st.mean.assign(groups, 0.0);
    st.var.assign(groups, 0.0);
    st.rstd.assign(groups, 0.0);
  }
  auto y = Tensor<T>::empty(geo.x_shape, x.device());
  const T* xp = x.data();
  T* yp = y.data();
  const double inv_size = size > 0 ? 1.0 / static_cast<double>(size) : 0.0;

  if (geo.kind == NormKind::Batch) {
    // One pass of y = x scale + shift per (n, c) row.
    const int64_t rows = N * C;
    if (!geo.fixed_stats) batch_stats(xp, geo, st);
    std::vector<T> scale(C), shift(C);
    for (int64_t c = 0; c < C; ++c) {
      double sc = st.rstd[c] * (w ? static_cast<double>(w[c]) : 1.0);
      scale[c] = static_cast<T>(sc);
      shift[c] = static_cast<T>((b ? static_cast<double>(b[c]) : 0.0) - st.mean[c] * sc);
    }
    parallel_for(rows, S, [&](int64_t r0, int64_t r1) {
      rows_with_channel(r0, r1, C, [&](int64_t r, int64_t c) {
        const T sc = scale[c], sh = shift[c];
        const T* p = xp + r * S;
        T* q = yp + r * S;
        for (int64_t i = 0; i < S; ++i) q[i] = p[i] * sc + sh;
      });
    });
    return y;
  }

  // Group and Layer: rows of `size` contiguous values, each its own statistics group. Rows
  // go in blocks: statistics of the block, then its square roots (which then overlap
  // instead of stalling every short row), then its output while the rows are in cache.
  auto rows = [&](int64_t r0, int64_t r1, auto&& write_row) {
    constexpr int64_t kRows = 16;
    for (int64_t rb = r0; rb < r1; rb += kRows) {
      const int64_t re = std::min(r1, rb + kRows);
      for (int64_t r = rb; r < re; ++r) {
        const T* p = xp + r * size;
        const double mean = lane_sum<T>(size, [p](int64_t i) { return p[i]; }) * inv_size;
        const T m = static_cast<T>(mean);
        st.mean[r] = mean;
        st.var[r] = lane_sum<T>(size, [p, m](int64_t i) { T d = p[i] - m; return d * d; }) * inv_size;
      }
      for (int64_t r = rb; r < re; ++r) st.rstd[r] = 1.0 / std::sqrt(st.var[r] + geo.eps);
      for (int64_t r = rb; r < re; ++r) write_row(r, xp + r * size, yp + r * size);
    }
  };

  if (geo.kind == NormKind::Group) {
    // Row (n, g) holds the D = C/G channels of group g; weight and bias are per channel.
    const int64_t D = C / geo.G;
    parallel_for(groups, size, [&](int64_t r0, int64_t r1) {
      rows(r0, r1, [&](int64_t r, const T* p, T* q) {
        const int64_t c0 = (r - r / geo.G * geo.G) * D;
        for (int64_t d = 0; d < D; ++d) {
          const int64_t c = c0 + d;
          const double sc_d = st.rstd[r] * (w ? static_cast<double>(w[c]) : 1.0);
          const T sc = static_cast<T>(sc_d);
          const T sh = static_cast<T>((b ? static_cast<double>(b[c]) : 0.0) - st.mean[r] * sc_d);
          const T* pc = p + d * S;
          T* qc = q + d * S;
          for (int64_t i = 0; i < S; ++i) qc[i] = pc[i] * sc + sh;
        }
      });
    });
    return y;
  }

  // Layer: row n of K = S values; weight and bias are per position in the row.
  parallel_for(N, S, [&](int64_t r0, int64_t r1) {
    rows(r0, r1, [&](int64_t r, const T* p, T* q) {
      const T sc = static_cast<T>(st.rstd[r]), sh = static_cast<T>(-st.mean[r] * st.rstd[r]);
      if (w && b)
        for (int64_t i = 0; i < S; ++i) q[i] = (p[i] * sc + sh) * w[i] + b[i];
      else
        for (int64_t i = 0; i < S; ++i) q[i] = (p[i] * sc + sh) * (w ? w[i] : T(1)) + (b ? b[i] : T(0));
    });
  });
  return y;
}

// The first-order backward of norm_forward_kernel: {dx, dw, db} (undefined where not needed).
// With xhat = (x - mean) rstd, gw = g * w and sums over each statistics group of L values,
//   dx = rstd (gw - sum(gw)/L - xhat sum(gw xhat)/L),  dw = sum(g xhat),  db = sum(g),
// evaluated as dx = a g + bx x + k with per-channel (per-row) coefficients. With constant
// statistics only dx = rstd gw remains.
template <typename T>
std::vector<Tensor<T>> norm_backward_kernel(const Tensor<T>& g, const Tensor<T>& x, const T* w, const NormStats& st,
                                            const NormGeometry& geo, bool need_dx, bool need_dw, bool need_db) {
  const int64_t N = geo.N, C = geo.C, S = geo.S, size = geo.stat_size();
  const double inv_size = size > 0 ? 1.0 / static_cast<double>(size) : 0.0;
  const T* gp = g.data();
  const T* xp = x.data();
  Tensor<T> dx = need_dx ? Tensor<T>::empty(geo.x_shape, x.device()) : Tensor<T>();
  T* dxp = need_dx ? dx.data() : nullptr;
  std::vector<double> dw_acc, db_acc;

  if (geo.kind == NormKind::Batch || geo.kind == NormKind::Group) {
    // Per (n, c): sum(g) and sum(g (x - mean)).
    std::vector<double> sg(N * C), sgx(N * C);
    auto channel_sums = [&](int64_t r, int64_t k) {  // row r = (n, c) of statistics group k
      const T m = static_cast<T>(st.mean[k]);
      const T* gr = gp + r * S;
      const T* xr = xp + r * S;
      std::tie(sg[r], sgx[r]) = lane_sum2<T>(S, [gr](int64_t i) { return gr[i]; },
                                             [gr, xr, m](int64_t i) { return gr[i] * (xr[i] - m); });
    };
    auto apply_dx = [&](int64_t r, double a, double bx, double k) {
      const T ta = static_cast<T>(a), tb = static_cast<T>(bx), tk = static_cast<T>(k);
      const T* gr = gp + r * S;
      const T* xr = xp + r * S;
      T* q = dxp + r * S;
      for (int64_t i = 0; i < S; ++i) q[i] = gr[i] * ta + xr[i] * tb + tk;
    };
    if (geo.kind == NormKind::Batch) {
      // With fixed statistics, dx = g w rstd needs no sums.
      if (!geo.fixed_stats || need_dw || need_db)
        parallel_for(N * C, 2 * S, [&](int64_t r0, int64_t r1) {
          rows_with_channel(r0, r1, C, [&](int64_t r, int64_t c) { channel_sums(r, c); });
        });
      std::vector<double> Sg, Sgx;
      sum_over_rows(sg, C, Sg);
      sum_over_rows(sgx, C, Sgx);
      if (need_dx) {
        std::vector<double> a(C), bx(C), k(C);
        for (int64_t c = 0; c < C; ++c) {
          const double rs = st.rstd[c], wc = w ? static_cast<double>(w[c]) : 1.0;
          a[c] = wc * rs;
          bx[c] = geo.fixed_stats ? 0.0 : -wc * rs * rs * rs * Sgx[c] * inv_size;
          k[c] = geo.fixed_stats ? 0.0 : -a[c] * Sg[c] * inv_size - bx[c] * st.mean[c];
        }
        parallel_for(N * C, 2 * S, [&](int64_t r0, int64_t r1) {
          rows_with_channel(r0, r1, C, [&](int64_t r, int64_t c) { apply_dx(r, a[c], bx[c], k[c]); });
        });
      }
      dw_acc.resize(C);
      db_acc = Sg;
      for (int64_t c = 0; c < C; ++c) dw_acc[c] = Sgx[c] * st.rstd[c];
    } else {
      const int64_t G = geo.G, D = C / G;
      parallel_for(N * G, 2 * size, [&](int64_t r0, int64_t r1) {
        for (int64_t ng = r0; ng < r1; ++ng) {
          const int64_t n = ng / G, c0 = (ng % G) * D;
          double A = 0, B = 0;
          for (int64_t d = 0; d < D; ++d) {
            const int64_t r = n * C + c0 + d;
            channel_sums(r, ng);
            const double wc = w ? static_cast<double>(w[c0 + d]) : 1.0;
            A += wc * sg[r];
            B += wc * sgx[r];
          }
          if (!need_dx) continue;
          const double rs = st.rstd[ng];
          const double bx = -rs * rs * rs * B * inv_size;
          const double k = -rs * A * inv_size - bx * st.mean[ng];
          for (int64_t d = 0; d < D; ++d) {
            const double wc = w ? static_cast<double>(w[c0 + d]) : 1.0;
            apply_dx(n * C + c0 + d, rs * wc, bx, k);
          }
        }
      });
      dw_acc.assign(C, 0.0);
      db_acc.assign(C, 0.0);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t gi = 0; gi < G; ++gi)
          for (int64_t c = gi * D; c < (gi + 1) * D; ++c) {
            dw_acc[c] += sgx[n * C + c] * st.rstd[n * G + gi];
            db_acc[c] += sg[n * C + c];
          }
    }
  } else {
    // Layer: per row, A = sum(g w) and B = sum(g w (x - mean)); dw and db are column sums.
    if (need_dx) {
      parallel_for(N, 2 * S, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const T m = static_cast<T>(st.mean[r]);
          const T* gr = gp + r * S;
          const T* xr = xp + r * S;
          const auto [A, B] =
              w ? lane_sum2<T>(S, [gr, w](int64_t i) { return gr[i] * w[i]; },
                               [gr, xr, w, m](int64_t i) { return gr[i] * w[i] * (xr[i] - m); })
                : lane_sum2<T>(S, [gr](int64_t i) { return gr[i]; },
                               [gr, xr, m](int64_t i) { return gr[i] * (xr[i] - m); });
          const double rs = st.rstd[r];
          const double bx = -rs * rs * rs * B * inv_size;
          const T tb = static_cast<T>(bx), tk = static_cast<T>(-rs * A * inv_size - bx * st.mean[r]);
          const T ta = static_cast<T>(rs);
          T* q = dxp + r * S;
          for (int64_t i = 0; i < S; ++i) q[i] = gr[i] * (w ? w[i] : T(1)) * ta + xr[i] * tb + tk;
        }
      });
    }
    if (need_dw || need_db) {
      dw_acc.assign(S, 0.0);
      db_acc.assign(S, 0.0);
      // Column sums, split by columns so no two threads write the same accumulator; blocks
      // of rows sum in T (vectorised), block totals in double.
      parallel_for(S, 2 * N, [&](int64_t k0, int64_t k1) {
        constexpr int64_t kRows = 64;
        std::vector<T> bw(k1 - k0), bb(k1 - k0);
        for (int64_t rb = 0; rb < N; rb += kRows) {
          std::fill(bw.begin(), bw.end(), T(0));
          std::fill(bb.begin(), bb.end(), T(0));
          for (int64_t r = rb; r < std::min(N, rb + kRows); ++r) {
            const T* gr = gp + r * S + k0;
            const T* xr = xp + r * S + k0;
            const T m = static_cast<T>(st.mean[r]), rs = static_cast<T>(st.rstd[r]);
            for (int64_t i = 0; i < k1 - k0; ++i) {
              bb[i] += gr[i];
              bw[i] += gr[i] * ((xr[i] - m) * rs);
            }
          }
          for (int64_t i = 0; i < k1 - k0; ++i) {
            db_acc[k0 + i] += bb[i];
            dw_acc[k0 + i] += bw[i];
          }
        }
      });
    }
  }

  auto to_param = [&](const std::vector<double>& v) {
    auto t = Tensor<T>::empty(geo.param_shape, x.device());
    for (size_t i = 0; i < v.size(); ++i) t.data()[i] = static_cast<T>(v[i]);
    return t;
  };
  return {dx, need_dw ? to_param(dw_acc) : Tensor<T>(), need_db ? to_param(db_acc) : Tensor<T>()};
}

// t (x's shape) seen so that the statistics reduce over stat_dims(geo).
template <typename T>
Tensor<T> stats_view(const Tensor<T>& t, const NormGeometry& geo) {
  switch (geo.kind) {
    case NormKind::Batch: return t.reshape({geo.N, geo.C, geo.S});
    case NormKind::Group: return t.reshape({geo.N, geo.G, geo.C / geo.G * geo.S});
    default: return t.reshape({geo.N, geo.S});
  }
}
inline std::vector<int64_t> stat_dims(const NormGeometry& geo) {
  switch (geo.kind) {
    case NormKind::Batch: return {0, 2};
    case NormKind::Group: return {2};
    default: return {1};
  }
}

// The same backward in differentiable ops, statistics recomputed from x (create_graph).
template <typename T>
std::vector<Tensor<T>> norm_backward_composite(const Tensor<T>& g, const Tensor<T>& x, const Tensor<T>& w,
                                               const NormStats& st, const NormGeometry& geo,
                                               autograd::NeedsMask mask) {
  const auto dims = stat_dims(geo);
  auto xv = stats_view(x, geo);
  Tensor<T> xhat, rstd;
  if (geo.fixed_stats) {
    auto as_tensor = [&](const std::vector<double>& v) {
      return from_vector<T>(std::vector<T>(v.begin(), v.end()), Shape{1, geo.C, 1}, x.device());
    };
    rstd = as_tensor(st.rstd);
    xhat = mul(sub(xv, as_tensor(st.mean)), rstd);
  } else {
    auto centered = sub(xv, latent::mean(xv, dims, true));
    rstd = rsqrt(add(latent::mean(mul(centered, centered), dims, true), geo.eps));
    xhat = mul(centered, rstd);
  }
  std::vector<Tensor<T>> out(3);
  if (autograd::needs(mask, 0)) {
    auto gv = stats_view(w.defined() ? mul(g, w.reshape(geo.affine_shape)) : g, geo);
    if (geo.fixed_stats) {
      out[0] = mul(rstd, gv).reshape(geo.x_shape);
    } else {
      auto inner = sub(sub(gv, latent::mean(gv, dims, true)), mul(xhat, latent::mean(mul(gv, xhat), dims, true)));
      out[0] = mul(rstd, inner).reshape(geo.x_shape);
    }
  }
  if (autograd::needs(mask, 1))
    out[1] = sum_to(mul(g, xhat.reshape(geo.x_shape)), geo.affine_shape).reshape(geo.param_shape);
  if (autograd::needs(mask, 2)) out[2] = sum_to(g, geo.affine_shape).reshape(geo.param_shape);
  return out;
}

// The normalisation in differentiable ops (the CUDA path until it has fused kernels): the
// graph of these ops is the backward, to any order. Statistics as fused_norm's, but summed
// in T; they are copied to the host (one wait for the device) only when *stats wants them.
template <typename T>
Tensor<T> composite_norm(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b, const NormGeometry& geo,
                         NormStats* stats) {
  const auto dims = stat_dims(geo);
  auto xv = stats_view(x, geo);
  Tensor<T> xhat;
  if (geo.fixed_stats) {
    auto as_tensor = [&](const std::vector<double>& v) {
      return from_vector<T>(std::vector<T>(v.begin(), v.end()), Shape{1, geo.C, 1}, x.device());
    };
    xhat = mul(sub(xv, as_tensor(stats->mean)), as_tensor(stats->rstd));
  } else {
    auto mean = latent::mean(xv, dims, true);
    auto centered = sub(xv, mean);
    auto var = latent::mean(mul(centered, centered), dims, true);
    auto rstd = rsqrt(add(var, geo.eps));
    xhat = mul(centered, rstd);
    if (stats) {
      auto to_doubles = [](const Tensor<T>& t) {
        auto v = t.detach().to_vector();
        return std::vector<double>(v.begin(), v.end());
      };
      stats->mean = to_doubles(mean);
      stats->var = to_doubles(var);
      stats->rstd = to_doubles(rstd);
    }
  }
  auto y = xhat.reshape(geo.x_shape);
  if (w.defined()) y = mul(y, w.reshape(geo.affine_shape));
  if (b.defined()) y = add(y, b.reshape(geo.affine_shape));
  return y;
}

// The fused normalisation op over inputs {x, w, b}; the statistics go to *stats when given
// (and come from it when geo.fixed_stats).
template <typename T>
Tensor<T> fused_norm(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b, const NormGeometry& geo,
                    NormStats* stats = nullptr) {
  if (x.device().is_cuda()) return composite_norm(x, w, b, geo, stats);
  auto st = geo.fixed_stats ? std::make_shared<NormStats>(*stats) : std::make_shared<NormStats>();
  Tensor<T> y;
  {
    NoGradGuard no_grad;
    auto xc = x.detach().contiguous();
    auto wc = w.defined() ? w.detach().contiguous() : Tensor<T>();
    auto bc = b.defined() ? b.detach().contiguous() : Tensor<T>();
    y = norm_forward_kernel(xc, data_or_null(wc), data_or_null(bc), geo, *st);
  }
  autograd::record(geo.op, y, {&x, &w, &b},
                   [geo, st, sx = autograd::SavedVariable<T>(x, false), sw = autograd::SavedVariable<T>(w, false)](
                       const Tensor<T>& g, autograd::NeedsMask mask) {
    auto xv = sx.unpack(geo.op);
    auto wv = sw.unpack(geo.op);
    if (is_grad_enabled()) return norm_backward_composite(g, xv, wv, *st, geo, mask);
    auto wc = wv.defined() ? wv.contiguous() : Tensor<T>();
    return norm_backward_kernel(g.contiguous(), xv.contiguous(), data_or_null(wc), *st, geo, autograd::needs(mask, 0),
                                autograd::needs(mask, 1), autograd::needs(mask, 2));
  });
  if (stats && !geo.fixed_stats) *stats = *st;
  return y;
}

template <typename T>
void check_param(const char* op, const char* name, const Tensor<T>& p, const Shape& want, const Tensor<T>& x,
                 const char* what) {
  if (!p.defined()) return;
  LATENT_CHECK(p.shape() == want, op, ": ", name, " should have shape ", want, " (", what, ") for input of shape ",
               x.shape(), ", got shape ", p.shape());
  latent::detail::check_same_device(op, x, p);
}

template <typename T>
void check_norm_input(const char* op, const Tensor<T>& x) {
  latent::detail::check_defined(op, x);
  LATENT_CHECK(x.dim() >= 2, op, ": expected an input of at least 2 dims (N, C, ...), got shape ", x.shape());
}

// (N, C, *) as the Batch/Group geometry.
inline NormGeometry channel_geometry(NormKind kind, const char* op, const Shape& s, int64_t groups, double eps) {
  NormGeometry geo;
  geo.kind = kind;
  geo.op = op;
  geo.N = s[0];
  geo.C = s[1];
  geo.S = 1;
  for (int i = 2; i < s.rank(); ++i) geo.S *= s[i];
  geo.G = groups;
  geo.eps = eps;
  geo.x_shape = s;
  geo.affine_shape = Shape{1, geo.C};
  for (int i = 2; i < s.rank(); ++i) geo.affine_shape.push_back(1);
  geo.param_shape = Shape{geo.C};
  return geo;
}

// running = (1 - momentum) running + momentum batch, in place, not recorded.
template <typename T>
void update_running(Tensor<T>& running, const std::vector<double>& batch, double momentum) {
  NoGradGuard no_grad;
  auto b = Tensor<T>::empty(running.shape(), kCPU);
  for (size_t i = 0; i < batch.size(); ++i) b.data()[i] = static_cast<T>(batch[i]);
  running.mul_(1.0 - momentum);
  running.add_(b.to(running.device()), momentum);
}

// Normalisation by running statistics (eval-mode batch norm, instance norm without input
// statistics): the fused op with constant per-channel statistics.
template <typename T>
Tensor<T> normalize_with_running(const Tensor<T>& x, const Tensor<T>& running_mean, const Tensor<T>& running_var,
                                 const Tensor<T>& weight, const Tensor<T>& bias, NormGeometry geo) {
  geo.fixed_stats = true;
  NormStats st;
  auto m = running_mean.to_vector(), v = running_var.to_vector();
  st.mean.assign(m.begin(), m.end());
  st.var.assign(v.begin(), v.end());
  for (double var : st.var) st.rstd.push_back(1.0 / std::sqrt(var + geo.eps));
  return fused_norm(x, weight, bias, geo, &st);
}

}  // namespace detail

namespace detail {
// weight, bias and running statistics of a per-channel norm: each (C) or undefined, the
// running pair given together.
template <typename T>
void check_channel_params(const char* op, const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias,
                          const Tensor<T>& running_mean, const Tensor<T>& running_var) {
  const Shape C{x.shape()[1]};
  check_param(op, "weight", weight, C, x, "C, the input's dim 1");
  check_param(op, "bias", bias, C, x, "C, the input's dim 1");
  check_param(op, "running_mean", running_mean, C, x, "C, the input's dim 1");
  check_param(op, "running_var", running_var, C, x, "C, the input's dim 1");
  LATENT_CHECK(running_mean.defined() == running_var.defined(), op,
               ": running_mean and running_var must be given together (got only ",
               running_mean.defined() ? "running_mean" : "running_var", ", input shape ", x.shape(), ")");
}
}  // namespace detail

// Batch normalisation over every dim but 1 of x (N, C, *), as F.batch_norm. training:
// normalise by the batch's mean and biased variance and, when running stats are given,
// update them in place (not recorded): running = (1 - momentum) running + momentum stat,
// with the unbiased variance. Otherwise normalise by the running statistics. weight,
// bias, running_mean, running_var: (C) or undefined. nn::BatchNorm* turn PyTorch's
// momentum=None (cumulative average) into momentum = 1 / num_batches_tracked.
template <typename T>
Tensor<T> batch_norm(const Tensor<T>& x, Tensor<T> running_mean, Tensor<T> running_var, const Tensor<T>& weight = {},
                     const Tensor<T>& bias = {}, bool training = false, double momentum = 0.1, double eps = 1e-5) {
  const char* op = "batch_norm";
  detail::check_norm_input(op, x);
  const Shape& s = x.shape();
  detail::check_channel_params(op, x, weight, bias, running_mean, running_var);
  auto geo = detail::channel_geometry(detail::NormKind::Batch, op, s, 1, eps);
  if (!training) {
    LATENT_CHECK(running_mean.defined(), op, ": running_mean and running_var are required when training=false "
                 "(input shape ", s, ")");
    return detail::normalize_with_running(x, running_mean, running_var, weight, bias, geo);
  }
  const int64_t count = geo.N * geo.S;
  LATENT_CHECK(count > 1, op, ": expected more than 1 value per channel when training, got input shape ", s);
  detail::NormStats st;
  auto y = detail::fused_norm(x, weight, bias, geo, running_mean.defined() ? &st : nullptr);
  if (running_mean.defined()) {
    std::vector<double> unbiased(st.var);
    for (auto& v : unbiased) v *= static_cast<double>(count) / static_cast<double>(count - 1);
    detail::update_running(running_mean, st.mean, momentum);
    detail::update_running(running_var, unbiased, momentum);
  }
  return y;
}

// Instance normalisation of x (N, C, *): every (n, c) plane by its own statistics when
// use_input_stats (then running stats, if given, move towards the batch average of the
// per-instance mean and unbiased variance), else by the running statistics, as
// F.instance_norm. weight, bias, running stats: (C) or undefined.
template <typename T>
Tensor<T> instance_norm(const Tensor<T>& x, Tensor<T> running_mean = {}, Tensor<T> running_var = {},
                        const Tensor<T>& weight = {}, const Tensor<T>& bias = {}, bool use_input_stats = true,
                        double momentum = 0.1, double eps = 1e-5) {
  const char* op = "instance_norm";
  detail::check_norm_input(op, x);
  const Shape& s = x.shape();
  detail::check_channel_params(op, x, weight, bias, running_mean, running_var);
  auto geo = detail::channel_geometry(detail::NormKind::Group, op, s, s[1], eps);
  if (!use_input_stats) {
    LATENT_CHECK(running_mean.defined(), op, ": running_mean and running_var are required when "
                 "use_input_stats=false (input shape ", s, ")");
    return detail::normalize_with_running(x, running_mean, running_var, weight, bias,
                                          detail::channel_geometry(detail::NormKind::Batch, op, s, 1, eps));
  }
  LATENT_CHECK(geo.S > 1, op, ": expected more than 1 spatial element when training, got input shape ", s);
  detail::NormStats st;
  auto y = detail::fused_norm(x, weight, bias, geo, running_mean.defined() ? &st : nullptr);
  if (running_mean.defined() && geo.N > 0) {
    std::vector<double> m(geo.C, 0.0), v(geo.C, 0.0);
    const double unbias = static_cast<double>(geo.S) / static_cast<double>(geo.S - 1);
    for (int64_t k = 0; k < geo.N * geo.C; ++k) {
      m[k % geo.C] += st.mean[k] / static_cast<double>(geo.N);
      v[k % geo.C] += st.var[k] * unbias / static_cast<double>(geo.N);
    }
    detail::update_running(running_mean, m, momentum);
    detail::update_running(running_var, v, momentum);
  }
  return y;
}

// Group normalisation of x (N, C, *): channels split into num_groups groups, each (n,
// group) normalised by its own statistics; then per-channel weight and bias (C), as
// F.group_norm.
template <typename T>
Tensor<T> group_norm(const Tensor<T>& x, int64_t num_groups, const Tensor<T>& weight = {}, const Tensor<T>& bias = {},
                     double eps = 1e-5) {
  const char* op = "group_norm";
  detail::check_norm_input(op, x);
  const Shape& s = x.shape();
  LATENT_CHECK(num_groups > 0, op, ": num_groups must be positive, got ", num_groups);
  LATENT_CHECK(s[1] % num_groups == 0, op, ": expected the number of channels (", s[1],
               ", dim 1 of input shape ", s, ") to be divisible by num_groups=", num_groups);
  detail::check_param(op, "weight", weight, Shape{s[1]}, x, "C, the input's dim 1");
  detail::check_param(op, "bias", bias, Shape{s[1]}, x, "C, the input's dim 1");
  return detail::fused_norm(x, weight, bias, detail::channel_geometry(detail::NormKind::Group, op, s, num_groups, eps));
}

// Layer normalisation over the trailing dims given by normalized_shape, each row by its own
// statistics; weight and bias have shape normalized_shape, as F.layer_norm.
template <typename T>
Tensor<T> layer_norm(const Tensor<T>& x, const Shape& normalized_shape, const Tensor<T>& weight = {},
                     const Tensor<T>& bias = {}, double eps = 1e-5) {
  const char* op = "layer_norm";
  latent::detail::check_defined(op, x);
  const Shape& s = x.shape();
  const int k = normalized_shape.rank(), lead = s.rank() - k;
  LATENT_CHECK(k > 0, op, ": normalized_shape must name at least one dim");
  bool match = lead >= 0;
  for (int i = 0; match && i < k; ++i) match = s[lead + i] == normalized_shape[i];
  LATENT_CHECK(match, op, ": expected an input whose trailing dims equal normalized_shape ", normalized_shape,
               ", got input shape ", s);
  detail::check_param(op, "weight", weight, normalized_shape, x, "normalized_shape");
  detail::check_param(op, "bias", bias, normalized_shape, x, "normalized_shape");
  detail::NormGeometry geo;
  geo.kind = detail::NormKind::Layer;
  geo.op = op;
  geo.S = normalized_shape.numel();
  geo.N = 1;
  for (int i = 0; i < lead; ++i) geo.N *= s[i];
  geo.eps = eps;
  geo.x_shape = s;
  geo.affine_shape = normalized_shape;
  geo.param_shape = normalized_shape;
  return detail::fused_norm(x, weight, bias, geo);
}

}  // namespace latent::nn::functional
