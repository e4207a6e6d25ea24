// Reductions over all or given dims with keepdim: sum, mean, var/std, amax/amin,
// max/min with indices, argmax/argmin, logsumexp, norm. Kernels view the input as
// (outer, R, inner) -- R the reduced extent -- permuting reduced dims last when they are
// not one contiguous block, so every case runs a simple dense loop.
#pragma once
#include <limits>

#include "elementwise.hpp"

namespace latent {

template <typename T>
Tensor<T> gather(const Tensor<T>& x, int64_t dim, const IndexTensor& index,
                 detail::IndexCheck check = detail::IndexCheck::Host);

namespace detail {

struct ReducePlan {
  std::vector<bool> reduced;  // per input dim
  Shape out_shape;            // with keepdim applied
  Shape keep_shape;           // out shape as if keepdim
  int64_t count = 1;          // elements reduced into each output
  std::vector<int64_t> reduced_dims() const {
    std::vector<int64_t> d;
    for (size_t i = 0; i < reduced.size(); ++i)
      if (reduced[i]) d.push_back(static_cast<int64_t>(i));
    return d;
  }
};

inline ReducePlan plan_reduce(const Shape& shape, const std::vector<int64_t>& dims, bool keepdim, const char* op) {
  ReducePlan p;
  int rank = shape.rank();
  p.reduced.assign(rank, dims.empty());
  for (int64_t d : dims) {
    int w = wrap_dim(d, rank, op);
    if (rank == 0) continue;
    LATENT_CHECK(!p.reduced[w] || dims.empty(), op, ": dim ", w, " appears multiple times in the list of dims");
    p.reduced[w] = true;
  }
  for (int i = 0; i < rank; ++i) {
    p.keep_shape.push_back(p.reduced[i] ? 1 : shape[i]);
    if (p.reduced[i]) p.count *= shape[i];
    else p.out_shape.push_back(shape[i]);
    if (p.reduced[i] && keepdim) p.out_shape.push_back(1);
  }
  return p;
}

// Contiguous data laid out as (outer, R, inner) for plan p.
template <typename T>
struct ReduceLayout {
  Tensor<T> data;
  int64_t outer = 1, R = 1, inner = 1;
};

template <typename T>
ReduceLayout<T> reduce_layout(const Tensor<T>& x, const ReducePlan& p) {
  ReduceLayout<T> L;
  int rank = x.dim();
  int first = -1, last = -1;
  for (int i = 0; i < rank; ++i)
    if (p.reduced[i] && x.shape()[i] != 1) {
      if (first < 0) first = i;
      last = i;
    }
  bool block = true;
  for (int i = first; first >= 0 && i <= last; ++i)
    if (!p.reduced[i] && x.shape()[i] != 1) block = false;
  if (first < 0) {  // nothing (of extent > 1) to reduce
    L.data = x.contiguous();
    L.outer = x.numel();
    return L;
  }
  if (block) {
    L.data = x.contiguous();
    for (int i = 0; i < first; ++i) L.outer *= x.shape()[i];
    for (int i = first; i <= last; ++i) L.R *= x.shape()[i];
    for (int i = last + 1; i < rank; ++i) L.inner *= x.shape()[i];
    return L;
  }
  std::vector<int64_t> order;
  for (int i = 0; i < rank; ++i) if (!p.reduced[i]) order.push_back(i);
  for (int i = 0; i < rank; ++i) if (p.reduced[i]) order.push_back(i);
  NoGradGuard no_grad;
  L.data = x.detach().permute(order).contiguous();
  L.outer = x.numel() / std::max<int64_t>(p.count, 1);
  L.R = p.count;
  return L;
}

// Sum of n contiguous values. Sixteen lanes of T over blocks of 4096 vectorise; block
// totals are carried in double, so a float sum of millions of values keeps ~1e-7
// relative accuracy (PyTorch's cascade sum gives the same order) at full SIMD speed.
template <typename T>
double contiguous_sum(const T* x, int64_t n) {
  constexpr int kLanes = 16;
  constexpr int64_t kBlock = 4096;
  double total = 0;
  int64_t r = 0;
  for (; r + kLanes <= n;) {
    const int64_t block_end = r + std::min<int64_t>(kBlock, (n - r) / kLanes * kLanes);
    T acc[kLanes] = {};
    for (; r < block_end; r += kLanes)
      for (int j = 0; j < kLanes; ++j) acc[j] += x[r + j];
    for (int w = kLanes / 2; w > 0; w /= 2)
      for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
    total += acc[0];
  }
  for (; r < n; ++r) total += x[r];
  return total;
}

// Sum over R of the (outer, R, inner) layout.
template <typename T>
void sum_kernel(const ReduceLayout<T>& L, T* out, double scale) {
  const T* x = L.data.data();
  const int64_t R = L.R, inner = L.inner;
  if (inner == 1) {
    const int threads = get_num_threads();
    if (L.outer < threads && L.outer * R >= kParallelGrain) {
      // Few long rows (a full reduction is one row): split each row across threads.
      const int64_t pieces = threads;
      std::vector<double> partial(static_cast<size_t>(L.outer * pieces));
      parallel_for(L.outer * pieces, R / pieces, [&](int64_t b, int64_t e) {
        for (int64_t w = b; w < e; ++w) {
          const int64_t o = w / pieces, k = w % pieces;
          const int64_t r0 = R * k / pieces, r1 = R * (k + 1) / pieces;
          partial[static_cast<size_t>(w)] = contiguous_sum(x + o * R + r0, r1 - r0);
        }
      });
      for (int64_t o = 0; o < L.outer; ++o) {
        double total = 0;
        for (int64_t k = 0; k < pieces; ++k) total += partial[static_cast<size_t>(o * pieces + k)];
        out[o] = static_cast<T>(total * scale);
      }
      return;
    }
    parallel_for(L.outer, R, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) out[o] = static_cast<T>(contiguous_sum(x + o * R, R) * scale);
    });
    return;
  }
  parallel_for(L.outer * inner, R, [&](int64_t b, int64_t e) {
    // Work item w covers output (o, i); handle runs of the same o together.
    for (int64_t w = b; w < e;) {
      int64_t o = w / inner, i0 = w % inner, i1 = std::min(inner, i0 + (e - w));
      T* dst = out + o * inner;
      const T* src = x + o * R * inner;
      for (int64_t i = i0; i < i1; ++i) dst[i] = src[i];
      for (int64_t r = 1; r < R; ++r) {
        const T* srow = src + r * inner;
        for (int64_t i = i0; i < i1; ++i) dst[i] += srow[i];
      }
      if (scale != 1.0)
        for (int64_t i = i0; i < i1; ++i) dst[i] = static_cast<T>(dst[i] * scale);
      w += i1 - i0;
    }
  });
}

// Max (want_max) or min over R with the first index of the extreme; NaN propagates.
template <typename T>
void extreme_kernel(const ReduceLayout<T>& L, T* out, int64_t* index, bool want_max) {
  const T* x = L.data.data();
  const int64_t R = L.R, inner = L.inner;
  parallel_for(L.outer * inner, R, [&](int64_t b, int64_t e) {
    for (int64_t w = b; w < e; ++w) {
      int64_t o = w / inner, i = w % inner;
      const T* src = x + o * R * inner + i;
      T best = src[0];
      int64_t best_r = 0;
      for (int64_t r = 1; r < R; ++r) {
        T v = src[r * inner];
        if (std::isnan(best)) break;
        if (std::isnan(v) || (want_max ? v > best : v < best)) { best = v; best_r = r; }
      }
      out[w] = best;
      if (index) index[w] = best_r;
    }
  });
}

// The CUDA form of sum_kernel (Sum) and extreme_kernel (Max, Min).
template <typename T>
void cuda_reduce(const char* op, const ReduceLayout<T>& L, cuda::ReduceOp kind, T* out, int64_t* index, double scale) {
  if constexpr (is_cuda_type<T>) {
    const int device = L.data.device().index;
    if constexpr (std::is_same_v<T, float>)
      cuda::backend().reduce_f32(device, kind, L.data.data(), L.outer, L.R, L.inner, out, index, scale);
    else
      cuda::backend().reduce_f64(device, kind, L.data.data(), L.outer, L.R, L.inner, out, index, scale);
  } else {
    cuda_type_error(op, L.data);
  }
}

// Expands a reduced gradient back over the reduced dims of `input_shape`.
template <typename T>
Tensor<T> expand_reduced(const Tensor<T>& g, const ReducePlan& p, const Shape& input_shape) {
  return g.reshape(p.keep_shape).expand(input_shape);
}

}  // namespace detail

// Sum over `dims` (all when empty).
template <typename T>
Tensor<T> sum(const Tensor<T>& x, const std::vector<int64_t>& dims, bool keepdim = false) {
  detail::check_defined("sum", x);
  auto p = detail::plan_reduce(x.shape(), dims, keepdim, "sum");
  Tensor<T> out;
  if (x.device().is_cuda()) {
    out = Tensor<T>::empty(p.out_shape, x.device());
    if (out.numel() == 1) {  // a full reduction: the two-pass kernel spreads it over the whole GPU
      auto c = x.contiguous();
      if constexpr (std::is_same_v<T, float>) cuda::backend().sum_f32(x.device().index, c.data(), c.numel(), out.data());
      else if constexpr (std::is_same_v<T, double>) cuda::backend().sum_f64(x.device().index, c.data(), c.numel(), out.data());
      else detail::cuda_type_error("sum", x);
    } else if (out.numel() > 0) {
      detail::cuda_reduce("sum", detail::reduce_layout(x, p), cuda::ReduceOp::Sum, out.data(), nullptr, 1.0);
    }
  } else {
    out = Tensor<T>::empty(p.out_shape, x.device());
    if (x.numel() == 0) fill_buffer(out, T(0));
    else detail::sum_kernel(detail::reduce_layout(x, p), out.data(), 1.0);
  }
  Shape in_shape = x.shape();
  autograd::record("sum", out, {&x}, [p, in_shape](const Tensor<T>& g, autograd::NeedsMask) {
    return detail::Grads<T>{detail::expand_reduced(g, p, in_shape)};
  });
  return out;
}
template <typename T> Tensor<T> sum(const Tensor<T>& x) { return sum(x, {}, false); }

// Sums `g` down to `shape` (the reverse of broadcasting `shape` up to g's shape).
template <typename T>
Tensor<T> sum_to(const Tensor<T>& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  int lead = g.dim() - shape.rank();
  LATENT_CHECK(lead >= 0, "sum_to: cannot reduce shape ", g.shape(), " to ", shape);
  std::vector<int64_t> dims;
  for (int i = 0; i < g.dim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && g.shape()[i] != 1)) dims.push_back(i);
  if (dims.empty()) return g.reshape(shape);
  return sum(g, dims, true).reshape(shape);
}

template <typename T>
Tensor<T> mean(const Tensor<T>& x, const std::vector<int64_t>& dims, bool keepdim = false) {
  auto p = detail::plan_reduce(x.shape(), dims, keepdim, "mean");
  LATENT_CHECK(p.count > 0, "mean: cannot take the mean of an empty reduction (shape ", x.shape(), ")");
  return mul(sum(x, dims, keepdim), 1.0 / static_cast<double>(p.count));
}
template <typename T> Tensor<T> mean(const Tensor<T>& x) { return mean(x, {}, false); }

// Variance with Bessel's correction when unbiased (composite: differentiable to any order).
template <typename T>
Tensor<T> var(const Tensor<T>& x, const std::vector<int64_t>& dims, bool unbiased = true, bool keepdim = false) {
  auto p = detail::plan_reduce(x.shape(), dims, keepdim, "var");
  auto centered = sub(x, mean(x, dims, true));
  double denom = static_cast<double>(p.count) - (unbiased ? 1.0 : 0.0);
  return mul(sum(mul(centered, centered), dims, keepdim), 1.0 / std::max(denom, 0.0));
}
template <typename T> Tensor<T> var(const Tensor<T>& x, bool unbiased = true) { return var(x, {}, unbiased, false); }
// var(x, {1}) reduces dim 1 (a braced list would otherwise pick `bool unbiased` above).
template <typename T>
Tensor<T> var(const Tensor<T>& x, std::initializer_list<int64_t> dims, bool unbiased = true, bool keepdim = false) {
  return var(x, std::vector<int64_t>(dims), unbiased, keepdim);
}
template <typename T>
Tensor<T> std(const Tensor<T>& x, const std::vector<int64_t>& dims, bool unbiased = true, bool keepdim = false) {
  detail::plan_reduce(x.shape(), dims, keepdim, "std");  // errors name std, not var
  return sqrt(var(x, dims, unbiased, keepdim));
}

namespace detail {
template <typename T>
Tensor<T> amax_or_amin(const Tensor<T>& x, const std::vector<int64_t>& dims, bool keepdim, bool want_max) {
  const char* op = want_max ? "amax" : "amin";
  check_defined(op, x);
  LATENT_CHECK(x.numel() > 0, op, ": expected a non-empty tensor (shape ", x.shape(), ")");
  auto p = plan_reduce(x.shape(), dims, keepdim, op);
  auto out = Tensor<T>::empty(p.out_shape, x.device());
  if (x.device().is_cuda())
    cuda_reduce(op, reduce_layout(x, p), want_max ? cuda::ReduceOp::Max : cuda::ReduceOp::Min, out.data(), nullptr, 1.0);
  else
    extreme_kernel(reduce_layout(x, p), out.data(), nullptr, want_max);
  Shape in_shape = x.shape();
  // Ties share the gradient evenly (as torch.amax).
  autograd::record(op, out, {&x}, [p, in_shape, x0 = x.detach(), y0 = out.detach()](const Tensor<T>& g, autograd::NeedsMask) {
    auto mask = eq(x0, y0.reshape(p.keep_shape));
    auto count = sum(mask, p.reduced_dims(), true);
    return Grads<T>{mul(expand_reduced(g, p, in_shape), div(mask, count))};
  });
  return out;
}

template <typename T>
std::pair<Tensor<T>, IndexTensor> max_or_min_dim(const Tensor<T>& x, int64_t dim, bool keepdim, bool want_max) {
  const char* op = want_max ? "max" : "min";
  check_defined(op, x);
  int d = wrap_dim(dim, x.dim(), op);
  LATENT_CHECK(x.dim() == 0 || x.shape()[d] > 0, op, ": cannot reduce over a zero-size dimension ", d,
               " (shape ", x.shape(), ")");
  auto p = plan_reduce(x.shape(), {d}, true, op);
  auto values = Tensor<T>::empty(p.keep_shape, x.device());
  auto index = IndexTensor::empty(p.keep_shape, x.device());
  if (x.device().is_cuda())
    cuda_reduce(op, reduce_layout(x, p), want_max ? cuda::ReduceOp::Max : cuda::ReduceOp::Min, values.data(),
                index.data(), 1.0);
  else
    extreme_kernel(reduce_layout(x, p), values.data(), index.data(), want_max);
  // Differentiable values come from gather, whose backward scatters to the chosen index.
  const bool differentiable = is_grad_enabled() && x.requires_grad();
  // The kernel's indices are in range already: no host check of them on CUDA.
  Tensor<T> v = x.dim() == 0 ? x : (differentiable ? gather(x, d, index, IndexCheck::Done) : values);
  if (!keepdim && x.dim() > 0) return {v.squeeze(d), index.squeeze(d)};
  return {v, index};
}
}  // namespace detail

template <typename T>
Tensor<T> amax(const Tensor<T>& x, const std::vector<int64_t>& dims, bool keepdim = false) {
  return detail::amax_or_amin(x, dims, keepdim, true);
}
template <typename T>
Tensor<T> amin(const Tensor<T>& x, const std::vector<int64_t>& dims, bool keepdim = false) {
  return detail::amax_or_amin(x, dims, keepdim, false);
}
template <typename T> Tensor<T> max(const Tensor<T>& x) { return amax(x, {}, false); }
template <typename T> Tensor<T> min(const Tensor<T>& x) { return amin(x, {}, false); }
// Values and indices of the maximum along `dim` (as torch.max(x, dim)).
template <typename T>
std::pair<Tensor<T>, IndexTensor> max(const Tensor<T>& x, int64_t dim, bool keepdim = false) {
  return detail::max_or_min_dim(x, dim, keepdim, true);
}
template <typename T>
std::pair<Tensor<T>, IndexTensor> min(const Tensor<T>& x, int64_t dim, bool keepdim = false) {
  return detail::max_or_min_dim(x, dim, keepdim, false);
}
template <typename T>
IndexTensor argmax(const Tensor<T>& x, int64_t dim, bool keepdim = false) {
  wrap_dim(dim, x.dim(), "argmax");
  NoGradGuard no_grad;
  return detail::max_or_min_dim(x, dim, keepdim, true).second;
}
template <typename T>
IndexTensor argmin(const Tensor<T>& x, int64_t dim, bool keepdim = false) {
  wrap_dim(dim, x.dim(), "argmin");
  NoGradGuard no_grad;
  return detail::max_or_min_dim(x, dim, keepdim, false).second;
}

// log(sum(exp(x))) computed stably around the (constant) maximum.
template <typename T>
Tensor<T> logsumexp(const Tensor<T>& x, const std::vector<int64_t>& dims, bool keepdim = false) {
  auto p = detail::plan_reduce(x.shape(), dims, false, "logsumexp");
  Tensor<T> m;
  {
    NoGradGuard no_grad;
    m = amax(x.detach(), dims, true);
    // An all -inf slice has max -inf; shift by 0 there so exp(x - m) stays finite.
    m = where(isfinite(m), m, zeros<T>(Shape{}, m.device()));
  }
  auto s = log(sum(exp(sub(x, m)), dims, true));
  auto out = add(s, m);
  if (keepdim) return out;
  return out.reshape(p.out_shape);
}

// p-norm over `dims` (all when empty): p = 1, 2 or infinity. The 2-norm's gradient is
// 0 where the norm is 0 (as PyTorch), not NaN.
template <typename T>
Tensor<T> norm(const Tensor<T>& x, double p, const std::vector<int64_t>& dims, bool keepdim = false) {
  auto plan = detail::plan_reduce(x.shape(), dims, keepdim, "norm");
  if (p == 1) return sum(abs(x), dims, keepdim);
  if (std::isinf(p)) return amax(abs(x), dims, keepdim);
  LATENT_CHECK(p == 2, "norm: p must be 1, 2 or inf, got ", p);
  auto sq = sum(mul(x.detach(), x.detach()), dims, keepdim);
  Tensor<T> out;
  {
    NoGradGuard no_grad;
    out = sqrt(sq);
  }
  autograd::record("norm", out, {&x}, [plan, sx = autograd::SavedVariable<T>(x, false)](const Tensor<T>& g, autograd::NeedsMask) {
    auto xv = sx.unpack("norm");
    // Recomputed in differentiable ops, so create_graph sees how the norm depends on x.
    auto n = sqrt(sum(mul(xv, xv), plan.reduced_dims(), true));
    auto zero_mask = eq(n.detach(), 0.0);
    auto safe_n = where(zero_mask, ones<T>(Shape{}, g.device()), n);
    auto scale = where(zero_mask, zeros<T>(Shape{}, g.device()), div(g.reshape(plan.keep_shape), safe_n));
    return detail::Grads<T>{mul(scale, xv)};
  });
  return out;
}
template <typename T> Tensor<T> norm(const Tensor<T>& x, double p = 2) { return norm(x, p, {}, false); }

}  // namespace latent
