// softmax and log_softmax along a dim, numerically stable (the row maximum is subtracted
// first). Backward: softmax dx = y (g - sum(g y)); log_softmax dx = g - exp(y) sum(g).
#pragma once
#include <Eigen/Core>

#include "reduce.hpp"

namespace latent {

namespace detail {
template <typename T>
Tensor<T> softmax_forward(const Tensor<T>& x, int d, bool log_space) {
  const char* op = log_space ? "log_softmax" : "softmax";
  auto p = plan_reduce(x.shape(), {d}, true, op);
  auto L = reduce_layout(x, p);
  auto out = Tensor<T>::empty(x.shape(), x.device());
  if (x.numel() == 0) return out;
  if (x.device().is_cuda()) {
    if constexpr (std::is_same_v<T, float>)
      cuda::backend().softmax_f32(x.device().index, L.data.data(), L.outer, L.R, L.inner, out.data(), log_space);
    else if constexpr (std::is_same_v<T, double>)
      cuda::backend().softmax_f64(x.device().index, L.data.data(), L.outer, L.R, L.inner, out.data(), log_space);
    else
      cuda_type_error(op, x);
    return out;
  }
  const T* src = L.data.data();
  T* dst = out.data();
  const int64_t R = L.R, inner = L.inner;
  if (inner == 1) {
    // Rows are contiguous (softmax over the last dim, as attention's): Eigen's packet exp,
    // one exp per element. std::exp twice per element made this 40% of a U-Net sampling step.
    parallel_for(L.outer, R * 4, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> row(src + o * R, R);
        Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> y(dst + o * R, R);
        T mx = row.maxCoeff();
        if (!std::isfinite(mx)) mx = std::isnan(mx) ? mx : T(0);
        // Eigen's exp clamps its argument, so exp(-inf) (a masked score) would come out as
        // the smallest normal number instead of 0; below the cutoff the result is 0. Not
        // with Eigen's select: in Eigen 3.4 it has no packet path, and the whole expression,
        // exp included, would run one scalar expf per element (a fifth of a U-Net sampling
        // step). The fix-up loop below vectorises.
        constexpr T cutoff = std::is_same_v<T, float> ? T(-87) : T(-707);
        y = (row - mx).exp();
        const T* in = src + o * R;
        T* yo = dst + o * R;
        for (int64_t r = 0; r < R; ++r)
          if (in[r] - mx < cutoff) yo[r] = T(0);
        const T total = y.sum();
        if (log_space)
          y = row - (mx + std::log(total));
        else
          y *= T(1) / total;
      }
    });
    return out;
  }
  // reduce_layout kept the block layout (a single dim is always one block).
  parallel_for(L.outer * inner, R * 4, [&](int64_t b, int64_t e) {
    for (int64_t w = b; w < e; ++w) {
      int64_t o = w / inner, i = w % inner;
      const T* s = src + o * R * inner + i;
      T* t = dst + o * R * inner + i;
      T mx = -std::numeric_limits<T>::infinity();
      for (int64_t r = 0; r < R; ++r) mx = std::max(mx, s[r * inner]);
      if (!std::isfinite(mx)) mx = std::isnan(mx) ? mx : T(0);
      T total = 0;
      for (int64_t r = 0; r < R; ++r) total += (t[r * inner] = std::exp(s[r * inner] - mx));
      if (log_space) {
        T lse = mx + std::log(total);
        for (int64_t r = 0; r < R; ++r) t[r * inner] = s[r * inner] - lse;
      } else {
        T inv = T(1) / total;
        for (int64_t r = 0; r < R; ++r) t[r * inner] *= inv;
      }
    }
  });
  return out;
}
}  // namespace detail

template <typename T>
Tensor<T> softmax(const Tensor<T>& x, int64_t dim) {
  int d = wrap_dim(dim, x.dim(), "softmax");
  auto out = detail::softmax_forward(x, d, false);
  auto saved = std::make_shared<autograd::SavedVariable<T>>();
  autograd::record("softmax", out, {&x}, [saved, d](const Tensor<T>& g, autograd::NeedsMask) {
    auto y = saved->unpack("softmax");
    return detail::Grads<T>{mul(y, sub(g, sum(mul(g, y), {d}, true)))};
  });
  if (out.grad_fn()) *saved = autograd::SavedVariable<T>(out, true);
  return out;
}

template <typename T>
Tensor<T> log_softmax(const Tensor<T>& x, int64_t dim) {
  int d = wrap_dim(dim, x.dim(), "log_softmax");
  auto out = detail::softmax_forward(x, d, true);
  auto saved = std::make_shared<autograd::SavedVariable<T>>();
  autograd::record("log_softmax", out, {&x}, [saved, d](const Tensor<T>& g, autograd::NeedsMask) {
    auto y = saved->unpack("log_softmax");
    return detail::Grads<T>{sub(g, mul(exp(y), sum(g, {d}, true)))};
  });
  if (out.grad_fn()) *saved = autograd::SavedVariable<T>(out, true);
  return out;
}

}  // namespace latent
