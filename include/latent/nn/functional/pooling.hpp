// Pooling and resampling over the last two dims of (N, C, H, W) or (C, H, W) tensors, as
// torch.nn.functional: max_pool2d (with indices), avg_pool2d, adaptive_avg_pool2d,
// interpolate (4-D; nearest, nearest-exact, bilinear, area), pixel_shuffle/unshuffle.
//
// Gradients of every order: all ops but max pooling are linear and separable, out = A_h X
// A_w^T per plane with sparse 1-D tap lists A_h, A_w, so one kernel serves them all and its
// backward is the same kernel with the transposed taps (whose backward is the original).
// Max pooling's backward scatters g to the saved argmax indices; that scatter's backward
// gathers at the same indices, and the gather's backward is the scatter again.
// Index and weight formulas follow ATen's CPU kernels (Pool.h, UpSample.h,
// AdaptivePooling.h), including where they compute in float for double inputs.
#pragma once
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../core/int_pair.hpp"
#include "../../latent.hpp"

namespace latent::nn::functional {


namespace detail {


// Rank 3 or 4 with non-empty C, H, W (the batch may be empty), as PyTorch's pooling checks.
template <typename T>
void check_planes_input(const char* op, const Tensor<T>& x) {
  latent::detail::check_defined(op, x);
  LATENT_CHECK(x.dim() == 3 || x.dim() == 4, op, ": expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape ",
               x.shape());
  int r = x.dim();
  LATENT_CHECK(x.shape()[r - 3] > 0 && x.shape()[r - 2] > 0 && x.shape()[r - 1] > 0, op,
               ": expected non-zero sizes for C, H and W, got input shape ", x.shape());
}

inline int64_t leading_planes(const Shape& s) {
  int64_t n = 1;
  for (int i = 0; i + 2 < s.rank(); ++i) n *= s[i];
  return n;
}

inline Shape with_hw(const Shape& s, int64_t h, int64_t w) {
  Shape out = s;
  out[s.rank() - 2] = h;
  out[s.rank() - 1] = w;
  return out;
}

// floor(a / b) for b > 0 (ATen's div_rtn).
inline int64_t div_floor(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// ATen's pooling_output_shape: in ceil mode the last window must start inside the input or
// its left padding.
inline int64_t pool_out_size(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dilation, bool ceil) {
  int64_t out = div_floor(in + 2 * pad - dilation * (k - 1) - 1 + (ceil ? stride - 1 : 0), stride) + 1;
  if (ceil && (out - 1) * stride >= in + pad) --out;
  return out;
}

struct PoolGeometry {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
};

// Validates kernel/stride/padding/dilation (padding <= kernel / 2 as PyTorch) without an input.
inline void check_pool_args(const char* op, const IntPair& k, const IntPair& s, const IntPair& p, const IntPair& d) {
  LATENT_CHECK(k.h > 0 && k.w > 0, op, ": kernel_size must be positive, got ", IntPair::pair(k.h, k.w));
  LATENT_CHECK(s.h > 0 && s.w > 0, op, ": stride must be positive, got ", IntPair::pair(s.h, s.w));
  LATENT_CHECK(d.h > 0 && d.w > 0, op, ": dilation must be positive, got ", IntPair::pair(d.h, d.w));
  LATENT_CHECK(p.h >= 0 && p.w >= 0, op, ": padding must be non-negative, got ", IntPair::pair(p.h, p.w));
  LATENT_CHECK(p.h <= k.h / 2 && p.w <= k.w / 2, op, ": padding ", IntPair::pair(p.h, p.w),
               " must be at most half of kernel_size ", IntPair::pair(k.h, k.w), " (padding <= kernel_size / 2)");
}

template <typename T>
PoolGeometry pool_geometry(const char* op, const Tensor<T>& x, const IntPair& k, const IntPair& stride,
                           const IntPair& p, const IntPair& d, bool ceil_mode) {
  check_planes_input(op, x);
  IntPair s = stride.value_or(k);
  check_pool_args(op, k, s, p, d);
  int64_t H = x.shape()[x.dim() - 2], W = x.shape()[x.dim() - 1];
  PoolGeometry g{k.h, k.w, s.h, s.w, p.h, p.w, d.h, d.w, pool_out_size(H, k.h, p.h, s.h, d.h, ceil_mode),
                 pool_out_size(W, k.w, p.w, s.w, d.w, ceil_mode)};
  LATENT_CHECK(g.oh >= 1 && g.ow >= 1, op, ": input of shape ", x.shape(), " is too small for kernel_size ",
               IntPair::pair(k.h, k.w), ", stride ", IntPair::pair(s.h, s.w), ", padding ", IntPair::pair(p.h, p.w),
               ", dilation ", IntPair::pair(d.h, d.w), (ceil_mode ? ", ceil_mode" : ""), ": the output would be ",
               IntPair::pair(g.oh, g.ow), ", expected at least 1 in each dim");
  return g;
}

// ------------------------------------------------------------------ separable linear maps
// A sparse 1-D linear map from n_in to n_out points (CSR): output o is the sum over
// k in [begin[o], begin[o + 1]) of weight[k] * input[src[k]].
template <typename T>
struct Taps {
  int64_t n_in = 0, n_out = 0;
  std::vector<int64_t> begin{0}, src;
  std::vector<T> weight;

  Taps(int64_t in, int64_t out) : n_in(in), n_out(out) { begin.reserve(out + 1); }
  void add(int64_t s, T w) {
    src.push_back(s);
    weight.push_back(w);
  }
  void close_output() { begin.push_back(static_cast<int64_t>(src.size())); }

  // The adjoint map (n_out -> n_in); within each of its outputs, taps keep ascending order.
  Taps transposed() const {
    Taps t(n_out, n_in);
    std::vector<int64_t> count(n_in + 1, 0);
    for (int64_t s : src) ++count[s + 1];
    for (int64_t i = 0; i < n_in; ++i) count[i + 1] += count[i];
    t.begin = count;
    t.src.resize(src.size());
    t.weight.resize(src.size());
    std::vector<int64_t> at(count.begin(), count.end() - 1);
    for (int64_t o = 0; o < n_out; ++o)
      for (int64_t k = begin[o]; k < begin[o + 1]; ++k) {
        int64_t slot = at[src[k]]++;
        t.src[slot] = o;
        t.weight[slot] = weight[k];
      }
    return t;
  }
};

// A plane map (H, W) -> (oH, oW) = rows (H -> oH) x cols (W -> oW), with its adjoint.
// Index 0 is the forward direction, 1 the adjoint; names are for autograd messages.
template <typename T>
struct Resampler {
  std::vector<Taps<T>> rows, cols;
  const char* names[2];
  Resampler(Taps<T> r, Taps<T> c, const char* fwd_name, const char* bwd_name) : names{fwd_name, bwd_name} {
    Taps<T> rt = r.transposed(), ct = c.transposed();
    rows = {std::move(r), std::move(rt)};
    cols = {std::move(c), std::move(ct)};
  }
};

// The map as a dense (n_out, n_in) matrix on `device`.
template <typename T>
Tensor<T> dense_taps(const Taps<T>& taps, Device device) {
  std::vector<T> m(static_cast<size_t>(taps.n_out * taps.n_in), T(0));
  for (int64_t o = 0; o < taps.n_out; ++o)
    for (int64_t k = taps.begin[o]; k < taps.begin[o + 1]; ++k)
      m[static_cast<size_t>(o * taps.n_in + taps.src[k])] += taps.weight[k];
  return from_vector<T>(m, Shape{taps.n_out, taps.n_in}, device);
}

// out[p] = R X[p] C^T for every plane p of x (dims before the last two), direction `dir`.
// Columns first, then rows: for bilinear this is ATen's order of operations, and the row
// pass is a contiguous axpy. On CUDA the two maps are dense matrices and the products
// batched GEMMs, whose own backward is the adjoint map (so no record here).
template <typename T>
Tensor<T> resample(const Tensor<T>& x, const std::shared_ptr<const Resampler<T>>& map, int dir) {
  const Taps<T>& R = map->rows[dir];
  const Taps<T>& C = map->cols[dir];
  const int64_t H = R.n_in, W = C.n_in, oH = R.n_out, oW = C.n_out;
  LATENT_CHECK(x.dim() >= 2 && x.shape()[x.dim() - 2] == H && x.shape()[x.dim() - 1] == W, map->names[dir],
               ": expected an input whose last two dims are ", IntPair::pair(H, W), ", got shape ", x.shape());
  if (x.device().is_cuda()) {
    auto planes = x.reshape({leading_planes(x.shape()), H, W});
    auto y = matmul(matmul(dense_taps(R, x.device()), planes), dense_taps(C, x.device()).t());
    return y.reshape(with_hw(x.shape(), oH, oW));
  }
  auto out = Tensor<T>::empty(with_hw(x.shape(), oH, oW), x.device());
  const int64_t planes = leading_planes(x.shape());
  if (out.numel() > 0) {
    auto xc = x.detach().contiguous();
    const T* xd = xc.data();
    T* od = out.data();
    std::vector<char> row_used(H, 0);
    for (int64_t s : R.src) row_used[s] = 1;
    // Nearest (1) and bilinear (2) read a fixed number of columns per output: unrolled below.
    int64_t col_taps = oW > 0 ? C.begin[1] : 0;
    for (int64_t ow = 1; ow < oW && col_taps > 0; ++ow)
      if (C.begin[ow + 1] - C.begin[ow] != col_taps) col_taps = -1;
    const int64_t cost = H * static_cast<int64_t>(C.src.size()) + oW * static_cast<int64_t>(R.src.size()) + oH * oW;
    parallel_for(planes, cost, [&](int64_t b, int64_t e) {
      std::vector<T> tmp(H * oW);
      for (int64_t p = b; p < e; ++p) {
        const T* xp = xd + p * H * W;
        T* yp = od + p * oH * oW;
        const int64_t* __restrict cb = C.begin.data();
        const int64_t* __restrict cs = C.src.data();
        const T* __restrict cw = C.weight.data();
        for (int64_t ih = 0; ih < H; ++ih) {
          if (!row_used[ih]) continue;
          const T* __restrict row = xp + ih * W;
          T* __restrict t = tmp.data() + ih * oW;
          if (col_taps == 1) {
            for (int64_t ow = 0; ow < oW; ++ow) t[ow] = cw[ow] * row[cs[ow]];
          } else if (col_taps == 2) {
            for (int64_t ow = 0; ow < oW; ++ow)
              t[ow] = cw[2 * ow] * row[cs[2 * ow]] + cw[2 * ow + 1] * row[cs[2 * ow + 1]];
          } else {
            for (int64_t ow = 0; ow < oW; ++ow) {
              T acc = 0;
              for (int64_t k = cb[ow]; k < cb[ow + 1]; ++k) acc += cw[k] * row[cs[k]];
              t[ow] = acc;
            }
          }
        }
        for (int64_t oh = 0; oh < oH; ++oh) {
          T* y = yp + oh * oW;
          int64_t k0 = R.begin[oh], k1 = R.begin[oh + 1];
          if (k0 == k1) {
            std::fill(y, y + oW, T(0));
            continue;
          }
          const T w0 = R.weight[k0];
          const T* __restrict t0 = tmp.data() + R.src[k0] * oW;
          T* __restrict yr = y;
          for (int64_t ow = 0; ow < oW; ++ow) yr[ow] = w0 * t0[ow];
          for (int64_t k = k0 + 1; k < k1; ++k) {
            const T w = R.weight[k];
            const T* __restrict t = tmp.data() + R.src[k] * oW;
            for (int64_t ow = 0; ow < oW; ++ow) yr[ow] += w * t[ow];
          }
        }
      }
    });
  }
  autograd::record(map->names[dir], out, {&x}, [map, dir](const Tensor<T>& g, autograd::NeedsMask) {
    return latent::detail::Grads<T>{resample(g, map, 1 - dir)};
  });
  return out;
}

template <typename T>
Tensor<T> apply_resampler(const Tensor<T>& x, Taps<T> rows, Taps<T> cols, const char* name, const char* bwd_name) {
  auto map = std::make_shared<const Resampler<T>>(std::move(rows), std::move(cols), name, bwd_name);
  return resample(x, map, 0);
}

// ------------------------------------------------------------------ tap builders
// avg_pool2d along one dim, as ATen's CPU kernel: the window [i0, i1) is cut at the padded
// border (count_include_pad counts that extent), then at the input; the divisor is the
// product of the two dims' counts, so it splits into one factor per dim. With
// divisor_override the whole division goes on the columns (`apply_divisor`).
template <typename T>
Taps<T> avg_pool_taps(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, bool count_include_pad,
                      std::optional<int64_t> divisor, bool apply_divisor) {
  Taps<T> t(in, out);
  for (int64_t o = 0; o < out; ++o) {
    int64_t i0 = o * stride - pad, i1 = std::min(i0 + k, in + pad);
    int64_t padded = i1 - i0;
    i0 = std::max<int64_t>(i0, 0);
    i1 = std::min(i1, in);
    if (i0 < i1) {
      T w;
      if (divisor) w = apply_divisor ? T(1) / T(*divisor) : T(1);
      else w = T(1) / T(count_include_pad ? padded : i1 - i0);
      for (int64_t i = i0; i < i1; ++i) t.add(i, w);
    }
    t.close_output();
  }
  return t;
}

// adaptive_avg_pool2d along one dim: window [floor(o*in/out), ceil((o+1)*in/out)).
template <typename T>
Taps<T> adaptive_taps(int64_t in, int64_t out) {
  Taps<T> t(in, out);
  for (int64_t o = 0; o < out; ++o) {
    int64_t i0 = (o / out) * in + ((o % out) * in) / out;  // ATen's start_index, overflow-safe
    int64_t i1 = 1 + ((o + 1) * in - 1) / out;
    T w = T(1) / T(i1 - i0);
    for (int64_t i = i0; i < i1; ++i) t.add(i, w);
    t.close_output();
  }
  return t;
}

// ATen's compute_scales_value: 1 / scale_factor when one was passed to the kernel, else in/out.
template <typename S>
S scales_value(std::optional<double> scale, int64_t in, int64_t out) {
  return scale && *scale > 0 ? static_cast<S>(1.0 / *scale) : static_cast<S>(in) / static_cast<S>(out);
}

// Nearest neighbours; ATen computes these indices in float for every dtype (and shortcuts
// out == in and out == 2 * in for the legacy mode), so this does too.
template <typename T>
Taps<T> nearest_taps(int64_t in, int64_t out, std::optional<double> scale, bool exact) {
  Taps<T> t(in, out);
  const float s = scales_value<float>(scale, in, out);
  for (int64_t o = 0; o < out; ++o) {
    int64_t src;
    if (exact) {
      // (o + 0.5) is a double in ATen; floorf then rounds the product to float first.
      src = static_cast<int64_t>(std::floor(static_cast<float>((static_cast<double>(o) + 0.5) * s)));
    } else if (out == in) {
      src = o;
    } else if (out == 2 * in) {
      src = o >> 1;
    } else {
      src = static_cast<int64_t>(std::floor(static_cast<float>(o) * s));
    }
    t.add(std::min(src, in - 1), T(1));
    t.close_output();
  }
  return t;
}

// Linear interpolation, ATen's compute_source_index_and_lambda with opmath = T (float for
// float), including its floorf (a float rounding even for double).
template <typename T>
Taps<T> linear_taps(int64_t in, int64_t out, bool align_corners, std::optional<double> scale) {
  Taps<T> t(in, out);
  T ratio;
  if (align_corners) ratio = out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0);
  else ratio = scales_value<T>(scale, in, out);
  for (int64_t o = 0; o < out; ++o) {
    if (out == in) {
      t.add(o, T(1));  // ATen's lambda pair (1, 0); without the 0 tap an inf stays inf, not 0 * inf
    } else {
      T real;
      if (align_corners) {
        real = ratio * static_cast<T>(o);
      } else {
        real = ratio * (static_cast<T>(o) + T(0.5)) - T(0.5);
        if (real < T(0)) real = T(0);
      }
      int64_t i0 = std::min(static_cast<int64_t>(std::floor(static_cast<float>(real))), in - 1);
      T l1 = std::min(std::max(real - static_cast<T>(i0), T(0)), T(1));
      int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
      t.add(i0, T(1) - l1);
      t.add(i1, l1);
    }
    t.close_output();
  }
  return t;
}

// ------------------------------------------------------------------ max pooling
// The gradient of max pooling: g scattered (added) into zeros of (H, W) planes at idx.
// Indices outside the plane (ATen reports one for a window lying wholly in the padding,
// which dilation allows) receive nothing, and max_pool_gather reads 0 there: still adjoint.
template <typename T>
Tensor<T> max_pool_gather(const Tensor<T>& x, const IndexTensor& idx);

template <typename T>
Tensor<T> max_pool_scatter(const Tensor<T>& g, const IndexTensor& idx, const Shape& in_shape) {
  LATENT_CHECK(g.shape() == idx.shape(), "max_pool2d_backward: gradient of shape ", g.shape(),
               " does not match the indices' shape ", idx.shape());
  const int64_t HW = in_shape[in_shape.rank() - 2] * in_shape[in_shape.rank() - 1];
  const int64_t oHW = g.shape()[g.dim() - 2] * g.shape()[g.dim() - 1];
  const int64_t planes = leading_planes(in_shape);
  if (g.device().is_cuda()) {
    auto out = Tensor<T>::empty(in_shape, g.device());
    auto gc = g.detach().contiguous();
    const int dev = g.device().index;
    if constexpr (std::is_same_v<T, float>)
      cuda::backend().max_pool_scatter_f32(dev, gc.data(), idx.data(), out.data(), planes, HW, oHW);
    else
      cuda::backend().max_pool_scatter_f64(dev, gc.data(), idx.data(), out.data(), planes, HW, oHW);
    autograd::record("max_pool2d_backward", out, {&g}, [idx](const Tensor<T>& gg, autograd::NeedsMask) {
      return latent::detail::Grads<T>{max_pool_gather(gg, idx)};
    });
    return out;
  }
  auto out = zeros<T>(in_shape, g.device());
  if (oHW > 0 && planes > 0) {
    auto gc = g.detach().contiguous();
    const T* gp = gc.data();
    const int64_t* ip = idx.data();
    T* op = out.data();
    parallel_for(planes, oHW + HW / 4, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p)
        for (int64_t k = p * oHW; k < (p + 1) * oHW; ++k) {
          int64_t i = ip[k];
          if (i >= 0 && i < HW) op[p * HW + i] += gp[k];
        }
    });
  }
  autograd::record("max_pool2d_backward", out, {&g}, [idx](const Tensor<T>& gg, autograd::NeedsMask) {
    return latent::detail::Grads<T>{max_pool_gather(gg, idx)};
  });
  return out;
}

// x (..., H, W) read at idx (..., oH, oW): the adjoint of max_pool_scatter.
template <typename T>
Tensor<T> max_pool_gather(const Tensor<T>& x, const IndexTensor& idx) {
  auto out = Tensor<T>::empty(idx.shape(), x.device());
  const int64_t HW = x.shape()[x.dim() - 2] * x.shape()[x.dim() - 1];
  const int64_t oHW = idx.shape()[idx.dim() - 2] * idx.shape()[idx.dim() - 1];
  const int64_t planes = leading_planes(idx.shape());
  if (out.numel() > 0 && x.device().is_cuda()) {
    auto xc = x.detach().contiguous();
    if constexpr (std::is_same_v<T, float>)
      cuda::backend().max_pool_gather_f32(x.device().index, xc.data(), idx.data(), out.data(), planes, HW, oHW);
    else
      cuda::backend().max_pool_gather_f64(x.device().index, xc.data(), idx.data(), out.data(), planes, HW, oHW);
  } else if (out.numel() > 0) {
    auto xc = x.detach().contiguous();
    const T* xp = xc.data();
    const int64_t* ip = idx.data();
    T* op = out.data();
    parallel_for(planes, oHW, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p)
        for (int64_t k = p * oHW; k < (p + 1) * oHW; ++k) {
          int64_t i = ip[k];
          op[k] = i >= 0 && i < HW ? xp[p * HW + i] : T(0);
        }
    });
  }
  Shape in_shape = x.shape();
  autograd::record("max_pool2d_backward_backward", out, {&x}, [idx, in_shape](const Tensor<T>& g, autograd::NeedsMask) {
    return latent::detail::Grads<T>{max_pool_scatter(g, idx, in_shape)};
  });
  return out;
}

}  // namespace detail

// ------------------------------------------------------------------ pooling
namespace detail {
// c ? a : b through bit masks. With ?: GCC branches in the scalar loop that also tracks the
// argmax, and that branch mispredicts about half the time on random data (10x slower).
template <typename V>
inline V select_bits(bool c, V a, V b) {
  using U = std::conditional_t<sizeof(V) == 4, uint32_t, uint64_t>;
  static_assert(sizeof(V) == sizeof(U));
  U ua, ub;
  std::memcpy(&ua, &a, sizeof ua);
  std::memcpy(&ub, &b, sizeof ub);
  const U m = U(0) - static_cast<U>(c);
  const U r = (ua & m) | (ub & ~m);
  V out;
  std::memcpy(&out, &r, sizeof out);
  return out;
}

// Max pooling of every plane of x into out (and the argmax's flat H*W index into idx when
// kIndices). Per output row, the window taps are the outer loops and the output columns the
// inner one, branch-free, so each output still visits its window in row-major order (ties
// keep the first maximum, a NaN always wins: ATen's `val > max || isnan(val)`) while the
// inner loop runs over a row at a fixed stride instead of through a 2-3 element window.
template <typename T, bool kIndices>
void max_pool_kernel(const T* xd, T* od, int64_t* id, int64_t planes, int64_t H, int64_t W, const PoolGeometry& g) {
  // For kernel column kw: iw = ow * sw + kw * dw - pw, in bounds for ow in [lo[kw], hi[kw]).
  std::vector<int64_t> lo(g.kw), hi(g.kw), first_w(g.ow);
  for (int64_t kw = 0; kw < g.kw; ++kw) {
    const int64_t off = kw * g.dw - g.pw;
    lo[kw] = std::min(off >= 0 ? 0 : (-off + g.sw - 1) / g.sw, g.ow);
    hi[kw] = W - 1 - off < 0 ? 0 : std::min((W - 1 - off) / g.sw + 1, g.ow);
    hi[kw] = std::max(hi[kw], lo[kw]);
  }
  // ATen's initial index: the window's first in-bounds position, kept when nothing is read.
  for (int64_t ow = 0; ow < g.ow; ++ow) {
    int64_t a = ow * g.sw - g.pw;
    while (a < 0) a += g.dw;
    first_w[ow] = a;
  }
  parallel_for(planes, g.oh * g.ow * g.kh * g.kw, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const T* __restrict xp = xd + p * H * W;
      for (int64_t oh = 0; oh < g.oh; ++oh) {
        T* __restrict best = od + (p * g.oh + oh) * g.ow;
        int64_t* __restrict at = kIndices ? id + (p * g.oh + oh) * g.ow : nullptr;
        int64_t h0 = oh * g.sh - g.ph;
        const int64_t h1 = std::min(h0 + (g.kh - 1) * g.dh + 1, H);
        while (h0 < 0) h0 += g.dh;
        std::fill(best, best + g.ow, -std::numeric_limits<T>::infinity());
        if constexpr (kIndices)
          for (int64_t ow = 0; ow < g.ow; ++ow) at[ow] = h0 * W + first_w[ow];
        for (int64_t ih = h0; ih < h1; ih += g.dh) {
          const T* __restrict row = xp + ih * W;
          for (int64_t kw = 0; kw < g.kw; ++kw) {
            const int64_t off = kw * g.dw - g.pw, base = ih * W + off;
            if constexpr (kIndices) {
              for (int64_t ow = lo[kw]; ow < hi[kw]; ++ow) {
                const T v = row[ow * g.sw + off], cur = best[ow];
                const bool take = (v > cur) | (v != v);
                best[ow] = select_bits(take, v, cur);
                at[ow] = select_bits(take, base + ow * g.sw, at[ow]);
              }
            } else {
              for (int64_t ow = lo[kw]; ow < hi[kw]; ++ow) {  // vectorizes
                const T v = row[ow * g.sw + off];
                const bool take = (v > best[ow]) | (v != v);
                best[ow] = take ? v : best[ow];
              }
            }
          }
        }
      }
    }
  });
}

// The CUDA max_pool_kernel: contiguous x, every plane.
template <typename T>
void cuda_max_pool(const Tensor<T>& x, T* out, int64_t* index, int64_t H, int64_t W, const PoolGeometry& g) {
  const cuda::PoolWindow w{g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.oh, g.ow};
  if constexpr (std::is_same_v<T, float>)
    cuda::backend().max_pool2d_f32(x.device().index, x.data(), out, index, leading_planes(x.shape()), H, W, w);
  else
    cuda::backend().max_pool2d_f64(x.device().index, x.data(), out, index, leading_planes(x.shape()), H, W, w);
}
}  // namespace detail

// Max over each window and the flat index (into H * W of its plane) of the maximum, as
// F.max_pool2d(..., return_indices=True): padding never wins, ties go to the first
// element in row-major order, NaN wins (the last NaN).
// x: (N, C, H, W) or (C, H, W) -> (N, C, oH, oW) or (C, oH, oW), twice.
template <typename T>
std::pair<Tensor<T>, IndexTensor> max_pool2d_with_indices(const Tensor<T>& x, IntPair kernel_size, IntPair stride = {},
                                                          IntPair padding = 0, IntPair dilation = 1,
                                                          bool ceil_mode = false) {
  static_assert(FloatingElement<T>, "max_pool2d: float or double tensors only");
  const auto g = detail::pool_geometry("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode);
  const int64_t H = x.shape()[x.dim() - 2], W = x.shape()[x.dim() - 1];
  Shape out_shape = detail::with_hw(x.shape(), g.oh, g.ow);
  auto out = Tensor<T>::empty(out_shape, x.device());
  auto idx = IndexTensor::empty(out_shape, x.device());
  if (out.numel() > 0) {
    auto xc = x.detach().contiguous();
    if (x.device().is_cuda())
      detail::cuda_max_pool(xc, out.data(), idx.data(), H, W, g);
    else
      detail::max_pool_kernel<T, true>(xc.data(), out.data(), idx.data(), detail::leading_planes(x.shape()), H, W, g);
  }
  Shape in_shape = x.shape();
  autograd::record("max_pool2d", out, {&x},
                   [saved = autograd::SavedVariable<int64_t>(idx, false), in_shape](const Tensor<T>& grad,
                                                                                    autograd::NeedsMask) {
    return latent::detail::Grads<T>{detail::max_pool_scatter(grad, saved.unpack("max_pool2d"), in_shape)};
  });
  return {out, idx};
}

// F.max_pool2d: stride defaults to kernel_size.
// Without a graph to record (no grad mode, or x needs no gradient) no indices are written.
template <typename T>
Tensor<T> max_pool2d(const Tensor<T>& x, IntPair kernel_size, IntPair stride = {}, IntPair padding = 0, IntPair dilation = 1,
                     bool ceil_mode = false) {
  static_assert(FloatingElement<T>, "max_pool2d: float or double tensors only");
  if (is_grad_enabled() && x.requires_grad())
    return max_pool2d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode).first;
  const auto g = detail::pool_geometry("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode);
  auto out = Tensor<T>::empty(detail::with_hw(x.shape(), g.oh, g.ow), x.device());
  if (out.numel() > 0) {
    auto xc = x.detach().contiguous();
    const int64_t H = x.shape()[x.dim() - 2], W = x.shape()[x.dim() - 1];
    if (x.device().is_cuda())
      detail::cuda_max_pool(xc, out.data(), static_cast<int64_t*>(nullptr), H, W, g);
    else
      detail::max_pool_kernel<T, false>(xc.data(), out.data(), nullptr, detail::leading_planes(x.shape()), H, W, g);
  }
  return out;
}

// F.avg_pool2d: the mean over each window; count_include_pad counts the zero padding in
// the divisor, divisor_override (non-zero) replaces the divisor.
template <typename T>
Tensor<T> avg_pool2d(const Tensor<T>& x, IntPair kernel_size, IntPair stride = {},
                     IntPair padding = 0, bool ceil_mode = false, bool count_include_pad = true,
                     std::optional<int64_t> divisor_override = std::nullopt) {
  static_assert(FloatingElement<T>, "avg_pool2d: float or double tensors only");
  const auto g = detail::pool_geometry("avg_pool2d", x, kernel_size, stride, padding, IntPair(1), ceil_mode);
  LATENT_CHECK(!divisor_override || *divisor_override != 0, "avg_pool2d: divisor_override must be non-zero");
  const int64_t H = x.shape()[x.dim() - 2], W = x.shape()[x.dim() - 1];
  return detail::apply_resampler(
      x, detail::avg_pool_taps<T>(H, g.oh, g.kh, g.sh, g.ph, count_include_pad, divisor_override, false),
      detail::avg_pool_taps<T>(W, g.ow, g.kw, g.sw, g.pw, count_include_pad, divisor_override, true),
      "avg_pool2d", "avg_pool2d_backward");
}

// F.adaptive_avg_pool2d: output cell (i, j) averages rows [floor(i*H/oH), ceil((i+1)*H/oH))
// and the same for columns. output_size may be 0 (an empty result), as in PyTorch.
template <typename T>
Tensor<T> adaptive_avg_pool2d(const Tensor<T>& x, IntPair output_size) {
  static_assert(FloatingElement<T>, "adaptive_avg_pool2d: float or double tensors only");
  detail::check_planes_input("adaptive_avg_pool2d", x);
  LATENT_CHECK(output_size.h >= 0 && output_size.w >= 0, "adaptive_avg_pool2d: output_size must be non-negative, got ",
               IntPair::pair(output_size.h, output_size.w), " (input shape ", x.shape(), ")");
  const int64_t H = x.shape()[x.dim() - 2], W = x.shape()[x.dim() - 1];
  return detail::apply_resampler(x, detail::adaptive_taps<T>(H, output_size.h),
                                 detail::adaptive_taps<T>(W, output_size.w), "adaptive_avg_pool2d",
                                 "adaptive_avg_pool2d_backward");
}

// ------------------------------------------------------------------ resampling
// F.interpolate's arguments for 4-D inputs. Exactly one of size and scale_factor, each with
// one value (both dims) or two (h, w):
//   interpolate(x, {.scale_factor = {2}, .mode = "bilinear"})
//   interpolate(x, {.size = {8, 11}, .mode = "bilinear", .align_corners = true})
// Without recompute_scale_factor a scale_factor is passed to the kernels (the source
// coordinate uses 1/scale_factor, not in/out), as PyTorch does.
struct InterpolateOptions {
  std::vector<int64_t> size;
  std::vector<double> scale_factor;
  std::string mode = "nearest";  // "nearest" | "nearest-exact" | "bilinear" | "area"
  std::optional<bool> align_corners;  // bilinear only; unset means false
  std::optional<bool> recompute_scale_factor;
};

template <typename T>
Tensor<T> interpolate(const Tensor<T>& x, const InterpolateOptions& o) {
  static_assert(FloatingElement<T>, "interpolate: float or double tensors only");
  latent::detail::check_defined("interpolate", x);
  const std::string& mode = o.mode;
  LATENT_CHECK(mode == "nearest" || mode == "nearest-exact" || mode == "bilinear" || mode == "area",
               "interpolate: mode must be 'nearest', 'nearest-exact', 'bilinear' or 'area', got '", mode, "'");
  LATENT_CHECK(x.dim() == 4, "interpolate: expected a 4-D (N, C, H, W) input for 2-D ", mode,
               " interpolation, got shape ", x.shape());
  LATENT_CHECK(!o.align_corners || mode == "bilinear", "interpolate: align_corners can only be set with mode "
               "'bilinear', got mode '", mode, "'");
  LATENT_CHECK(o.size.empty() != o.scale_factor.empty(), "interpolate: exactly one of size and scale_factor must "
               "be given, got ", o.size.empty() ? "neither" : "both", " (input shape ", x.shape(), ")");
  const int64_t H = x.shape()[2], W = x.shape()[3];
  int64_t oh, ow;
  std::optional<double> sh, sw;
  if (!o.size.empty()) {
    LATENT_CHECK(o.size.size() <= 2, "interpolate: size must have 1 or 2 values (for H and W), got ", o.size.size(),
                 " (input shape ", x.shape(), ")");
    LATENT_CHECK(!o.recompute_scale_factor.value_or(false),
                 "interpolate: recompute_scale_factor is not meaningful with an explicit size");
    oh = o.size.front();
    ow = o.size.back();
  } else {
    LATENT_CHECK(o.scale_factor.size() <= 2, "interpolate: scale_factor must have 1 or 2 values (for H and W), got ",
                 o.scale_factor.size(), " (input shape ", x.shape(), ")");
    sh = o.scale_factor.front();
    sw = o.scale_factor.back();
    LATENT_CHECK(*sh > 0 && *sw > 0 && std::isfinite(*sh) && std::isfinite(*sw),
                 "interpolate: scale_factor must be positive and finite, got (", *sh, ", ", *sw, ")");
    oh = static_cast<int64_t>(std::floor(static_cast<double>(H) * *sh));
    ow = static_cast<int64_t>(std::floor(static_cast<double>(W) * *sw));
    // Area mode, like recompute_scale_factor, keeps only the output size.
    if (o.recompute_scale_factor.value_or(false) || mode == "area") sh = sw = std::nullopt;
  }
  LATENT_CHECK(H > 0 && W > 0 && oh > 0 && ow > 0, "interpolate: input and output sizes must be positive, got input ",
               IntPair::pair(H, W), " and output ", IntPair::pair(oh, ow), " (input shape ", x.shape(), ")");
  if (mode == "area") return adaptive_avg_pool2d(x, IntPair(oh, ow));
  if (mode == "bilinear") {
    bool ac = o.align_corners.value_or(false);
    return detail::apply_resampler(x, detail::linear_taps<T>(H, oh, ac, sh), detail::linear_taps<T>(W, ow, ac, sw),
                                   "upsample_bilinear2d", "upsample_bilinear2d_backward");
  }
  bool exact = mode == "nearest-exact";
  return detail::apply_resampler(x, detail::nearest_taps<T>(H, oh, sh, exact), detail::nearest_taps<T>(W, ow, sw, exact),
                                 exact ? "upsample_nearest_exact2d" : "upsample_nearest2d",
                                 exact ? "upsample_nearest_exact2d_backward" : "upsample_nearest2d_backward");
}

// F.pixel_shuffle: (*, C*r*r, H, W) -> (*, C, H*r, W*r); a reshape, a permute and a copy.
template <typename T>
Tensor<T> pixel_shuffle(const Tensor<T>& x, int64_t upscale_factor) {
  const int64_t r = upscale_factor;
  LATENT_CHECK(x.dim() >= 3, "pixel_shuffle: expected an input with at least 3 dims (*, C*r*r, H, W), got shape ",
               x.shape());
  LATENT_CHECK(r > 0, "pixel_shuffle: upscale_factor must be positive, got ", r);
  const int n = x.dim();
  const int64_t c = x.shape()[n - 3], h = x.shape()[n - 2], w = x.shape()[n - 1];
  LATENT_CHECK(c % (r * r) == 0, "pixel_shuffle: the channel dim ", c, " of input shape ", x.shape(),
               " must be divisible by upscale_factor^2 = ", r * r);
  Shape lead;
  for (int i = 0; i < n - 3; ++i) lead.push_back(x.shape()[i]);
  const int b = lead.rank();
  Shape split = lead;
  for (int64_t v : {c / (r * r), r, r, h, w}) split.push_back(v);
  std::vector<int64_t> perm;
  for (int i = 0; i < b; ++i) perm.push_back(i);
  for (int i : {0, 3, 1, 4, 2}) perm.push_back(b + i);  // (c, r1, r2, h, w) -> (c, h, r1, w, r2)
  Shape result = lead;
  for (int64_t v : {c / (r * r), h * r, w * r}) result.push_back(v);
  return x.reshape(split).permute(perm).reshape(result);
}

// F.pixel_unshuffle: (*, C, H*r, W*r) -> (*, C*r*r, H, W), the inverse of pixel_shuffle.
template <typename T>
Tensor<T> pixel_unshuffle(const Tensor<T>& x, int64_t downscale_factor) {
  const int64_t r = downscale_factor;
  LATENT_CHECK(x.dim() >= 3, "pixel_unshuffle: expected an input with at least 3 dims (*, C, H*r, W*r), got shape ",
               x.shape());
  LATENT_CHECK(r > 0, "pixel_unshuffle: downscale_factor must be positive, got ", r);
  const int n = x.dim();
  const int64_t c = x.shape()[n - 3], h = x.shape()[n - 2], w = x.shape()[n - 1];
  LATENT_CHECK(h % r == 0 && w % r == 0, "pixel_unshuffle: height ", h, " and width ", w, " of input shape ",
               x.shape(), " must both be divisible by downscale_factor ", r);
  Shape lead;
  for (int i = 0; i < n - 3; ++i) lead.push_back(x.shape()[i]);
  const int b = lead.rank();
  Shape split = lead;
  for (int64_t v : {c, h / r, r, w / r, r}) split.push_back(v);
  std::vector<int64_t> perm;
  for (int i = 0; i < b; ++i) perm.push_back(i);
  for (int i : {0, 2, 4, 1, 3}) perm.push_back(b + i);  // (c, h, r1, w, r2) -> (c, r1, r2, h, w)
  Shape result = lead;
  for (int64_t v : {c * r * r, h / r, w / r}) result.push_back(v);
  return x.reshape(split).permute(perm).reshape(result);
}

}  // namespace latent::nn::functional
