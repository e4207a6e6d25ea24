// Matrix products: mm (2-D), bmm (3-D), matmul (PyTorch's 1-D/2-D/batched broadcasting
// rules), outer, and cdist (p = 2). CPU products run on Eigen's GEMM over the operands'
// own memory (transposed views need no copy); CUDA products go to cuBLAS.
// Glossary: m, k, n matrix extents; B batch.
#pragma once
#include "../backend/cpu/gemm.hpp"
#include "index.hpp"

namespace latent {

namespace detail {
// How a 2-D strided matrix (rows, cols, row stride, col stride) maps onto a GEMM operand.
struct GemmOperand {
  bool trans = false;
  int64_t ld = 1;
  bool ok = true;
};
inline GemmOperand gemm_operand(int64_t rows, int64_t cols, int64_t s0, int64_t s1) {
  GemmOperand op;
  if ((s1 == 1 || cols == 1) && (s0 >= std::max<int64_t>(cols, 1) || rows == 1)) {
    op.ld = rows == 1 ? std::max<int64_t>(cols, 1) : s0;
  } else if ((s0 == 1 || rows == 1) && (s1 >= std::max<int64_t>(rows, 1) || cols == 1)) {
    op.trans = true;
    op.ld = cols == 1 ? std::max<int64_t>(rows, 1) : s1;
  } else {
    op.ok = false;
  }
  return op;
}

// C(B,m,n) = A(B,m,k) B(B,k,n); batch strides may be 0 (broadcast). out is contiguous.
template <typename T>
void batched_gemm(const Tensor<T>& a, const Tensor<T>& b, Tensor<T>& out, int64_t batch, int64_t m, int64_t k,
                  int64_t n, int64_t a_batch_stride, int64_t b_batch_stride, int64_t a_s0, int64_t a_s1,
                  int64_t b_s0, int64_t b_s1, T beta = T(0)) {
  auto oa = gemm_operand(m, k, a_s0, a_s1), ob = gemm_operand(k, n, b_s0, b_s1);
  LATENT_CHECK(oa.ok && ob.ok, "gemm: internal error: operands need a contiguous copy first");
  if (out.device().is_cuda()) {
    if constexpr (is_cuda_type<T>) {
      int dev = out.device().index;
      if constexpr (std::is_same_v<T, float>)
        cuda::backend().gemm_f32(dev, oa.trans, ob.trans, m, n, k, 1.0f, a.data(), oa.ld, a_batch_stride, b.data(),
                                 ob.ld, b_batch_stride, beta, out.data(), n, m * n, batch);
      else
        cuda::backend().gemm_f64(dev, oa.trans, ob.trans, m, n, k, 1.0, a.data(), oa.ld, a_batch_stride, b.data(),
                                 ob.ld, b_batch_stride, beta, out.data(), n, m * n, batch);
    }
    return;
  }
  const T* ap = a.data();
  const T* bp = b.data();
  T* cp = out.data();
  auto one = [&](int64_t i) {
    cpu::gemm<T>(oa.trans, ob.trans, m, n, k, T(1), ap + i * a_batch_stride, oa.ld, bp + i * b_batch_stride, ob.ld,
                 beta, cp + i * m * n, n);
  };
  if (batch == 1) {
    one(0);
    return;
  }
  // Small products in a batch run one per thread; large ones let Eigen use the threads.
  if (m * n * k < 64 * 64 * 64) {
    parallel_for(batch, m * n * k / 8 + 1, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) one(i);
    });
  } else {
    for (int64_t i = 0; i < batch; ++i) one(i);
  }
}

template <typename T>
Tensor<T> gemm_ready(const Tensor<T>& t, int r0, int r1) {
  auto op = gemm_operand(t.shape()[r0], t.shape()[r1], t.strides()[r0], t.strides()[r1]);
  return op.ok ? t : t.contiguous();
}
}  // namespace detail

template <typename T> Tensor<T> bmm(const Tensor<T>& a, const Tensor<T>& b);

// (m,k) @ (k,n) -> (m,n)
template <typename T>
Tensor<T> mm(const Tensor<T>& a, const Tensor<T>& b) {
  detail::check_same_device("mm", a, b);
  LATENT_CHECK(a.dim() == 2 && b.dim() == 2, "mm: expected 2-D tensors, got shapes ", a.shape(), " and ", b.shape());
  LATENT_CHECK(a.shape()[1] == b.shape()[0], "mm: mat1 and mat2 shapes cannot be multiplied (", a.shape()[0], "x",
               a.shape()[1], " and ", b.shape()[0], "x", b.shape()[1], ")");
  int64_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
  auto out = Tensor<T>::empty(Shape{m, n}, a.device());
  if (out.numel() > 0) {
    auto ac = detail::gemm_ready(a, 0, 1), bc = detail::gemm_ready(b, 0, 1);
    detail::batched_gemm(ac, bc, out, 1, m, k, n, 0, 0, ac.strides()[0], ac.strides()[1], bc.strides()[0],
                         bc.strides()[1]);
  }
  autograd::record("mm", out, {&a, &b},
                   [sa = autograd::SavedVariable<T>(a, false), sb = autograd::SavedVariable<T>(b, false)](
                       const Tensor<T>& g, autograd::NeedsMask mk) {
    detail::Grads<T> r(2);
    if (autograd::needs(mk, 0)) r[0] = mm(g, sb.unpack("mm").t());
    if (autograd::needs(mk, 1)) r[1] = mm(sa.unpack("mm").t(), g);
    return r;
  });
  return out;
}

// bias + (m,k) @ (k,n) -> (m,n), bias broadcast to (m,n): one GEMM with beta = 1 instead
// of a product, a zero fill and a separate add (what Linear layers run).
template <typename T>
Tensor<T> addmm(const Tensor<T>& bias, const Tensor<T>& a, const Tensor<T>& b) {
  detail::check_same_device("addmm", a, b);
  detail::check_same_device("addmm", bias, a);
  LATENT_CHECK(a.dim() == 2 && b.dim() == 2, "addmm: expected 2-D matrices, got shapes ", a.shape(), " and ",
               b.shape());
  LATENT_CHECK(a.shape()[1] == b.shape()[0], "addmm: mat1 and mat2 shapes cannot be multiplied (", a.shape()[0],
               "x", a.shape()[1], " and ", b.shape()[0], "x", b.shape()[1], ")");
  int64_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
  Shape out_shape{m, n};
  LATENT_CHECK(broadcast_shapes(bias.shape(), out_shape, "addmm") == out_shape, "addmm: bias of shape ",
               bias.shape(), " cannot be broadcast to the product's shape ", out_shape);
  auto out = Tensor<T>::empty(out_shape, a.device());
  detail::copy_strided(out, bias, detail::broadcast_strides(bias, out_shape));
  if (out.numel() > 0 && k > 0) {
    auto ac = detail::gemm_ready(a, 0, 1), bc = detail::gemm_ready(b, 0, 1);
    detail::batched_gemm(ac, bc, out, 1, m, k, n, 0, 0, ac.strides()[0], ac.strides()[1], bc.strides()[0],
                         bc.strides()[1], T(1));
  }
  autograd::record("addmm", out, {&bias, &a, &b},
                   [sa = autograd::SavedVariable<T>(a, false), sb = autograd::SavedVariable<T>(b, false),
                    bias_shape = bias.shape()](const Tensor<T>& g, autograd::NeedsMask mk) {
    detail::Grads<T> r(3);
    if (autograd::needs(mk, 0)) r[0] = sum_to(g, bias_shape);
    if (autograd::needs(mk, 1)) r[1] = mm(g, sb.unpack("addmm").t());
    if (autograd::needs(mk, 2)) r[2] = mm(sa.unpack("addmm").t(), g);
    return r;
  });
  return out;
}

// y = x W^T + b as torch.nn.functional.linear: x (..., in), W (out, in), b (out) or undefined.
template <typename T>
Tensor<T> linear(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias = Tensor<T>()) {
  LATENT_CHECK(weight.dim() == 2, "linear: weight must be 2-D (out_features, in_features), got shape ",
               weight.shape());
  LATENT_CHECK(x.dim() >= 1 && x.shape()[x.dim() - 1] == weight.shape()[1], "linear: input of shape ", x.shape(),
               " does not end in in_features = ", weight.shape()[1], " (weight shape ", weight.shape(), ")");
  if (x.dim() == 2) return bias.defined() ? addmm(bias, x, weight.t()) : mm(x, weight.t());
  Shape out_shape = x.shape();
  out_shape[out_shape.rank() - 1] = weight.shape()[0];
  auto flat = x.reshape(Shape{-1, weight.shape()[1]});
  auto y = bias.defined() ? addmm(bias, flat, weight.t()) : mm(flat, weight.t());
  return y.reshape(out_shape);
}

// (B,m,k) @ (B,k,n) -> (B,m,n)
template <typename T>
Tensor<T> bmm(const Tensor<T>& a, const Tensor<T>& b) {
  detail::check_same_device("bmm", a, b);
  LATENT_CHECK(a.dim() == 3 && b.dim() == 3, "bmm: expected 3-D tensors, got shapes ", a.shape(), " and ", b.shape());
  LATENT_CHECK(a.shape()[0] == b.shape()[0] && a.shape()[2] == b.shape()[1], "bmm: shapes ", a.shape(), " and ",
               b.shape(), " cannot be multiplied (expected (B,m,k) and (B,k,n))");
  int64_t B = a.shape()[0], m = a.shape()[1], k = a.shape()[2], n = b.shape()[2];
  auto out = Tensor<T>::empty(Shape{B, m, n}, a.device());
  if (out.numel() > 0) {
    auto ac = detail::gemm_ready(a, 1, 2), bc = detail::gemm_ready(b, 1, 2);
    detail::batched_gemm(ac, bc, out, B, m, k, n, ac.strides()[0], bc.strides()[0], ac.strides()[1],
                         ac.strides()[2], bc.strides()[1], bc.strides()[2]);
  }
  autograd::record("bmm", out, {&a, &b},
                   [sa = autograd::SavedVariable<T>(a, false), sb = autograd::SavedVariable<T>(b, false)](
                       const Tensor<T>& g, autograd::NeedsMask mk) {
    detail::Grads<T> r(2);
    if (autograd::needs(mk, 0)) r[0] = bmm(g, sb.unpack("bmm").transpose(1, 2));
    if (autograd::needs(mk, 1)) r[1] = bmm(sa.unpack("bmm").transpose(1, 2), g);
    return r;
  });
  return out;
}

// torch.matmul: 1-D x 1-D dot, 2-D mm, 1-D promoted by a unit dim (removed after), and
// batched products with broadcast batch dims.
template <typename T>
Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b) {
  LATENT_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both arguments need at least 1 dimension, got shapes ",
               a.shape(), " and ", b.shape());
  if (a.dim() == 1 && b.dim() == 1) {
    LATENT_CHECK(a.shape()[0] == b.shape()[0], "matmul: 1-D tensors of different lengths ", a.shape(), " and ",
                 b.shape());
    return sum(mul(a, b));
  }
  if (a.dim() == 1) return matmul(a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) return matmul(a, b.unsqueeze(1)).squeeze(-1);
  if (a.dim() == 2 && b.dim() == 2) return mm(a, b);
  int64_t m = a.shape()[a.dim() - 2], k = a.shape()[a.dim() - 1];
  int64_t k2 = b.shape()[b.dim() - 2], n = b.shape()[b.dim() - 1];
  LATENT_CHECK(k == k2, "matmul: shapes ", a.shape(), " and ", b.shape(), " cannot be multiplied (", m, "x", k,
               " and ", k2, "x", n, ")");
  if (b.dim() == 2) {  // fold a's batch dims into its rows
    Shape out_shape(a.shape().begin(), a.shape().end() - 1);
    out_shape.push_back(n);
    return mm(a.reshape(Shape{-1, k}), b).reshape(out_shape);
  }
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  Shape ea = batch, eb = batch;
  ea.push_back(m); ea.push_back(k);
  eb.push_back(k); eb.push_back(n);
  int64_t B = batch.numel();
  auto a3 = a.expand(ea).reshape(Shape{B, m, k});
  auto b3 = b.expand(eb).reshape(Shape{B, k, n});
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  return bmm(a3, b3).reshape(out_shape);
}

// (m) x (n) -> (m, n)
template <typename T>
Tensor<T> outer(const Tensor<T>& a, const Tensor<T>& b) {
  LATENT_CHECK(a.dim() == 1 && b.dim() == 1, "outer: expected 1-D tensors, got shapes ", a.shape(), " and ",
               b.shape());
  return mul(a.unsqueeze(1), b.unsqueeze(0));
}

// Euclidean distances: (P,M) x (R,M) -> (P,R), or batched (B,P,M) x (B,R,M) -> (B,P,R).
namespace detail {
// out (B, P, R) = the distances between the rows of a (B, P, M) and b (B, R, M), contiguous.
template <typename T>
void cdist_kernel(const Tensor<T>& a, const Tensor<T>& b, Tensor<T>& out) {
  const int64_t B = a.shape()[0], P = a.shape()[1], R = b.shape()[1], M = a.shape()[2];
  const T* ap = a.data();
  const T* bp = b.data();
  T* op = out.data();
  parallel_for(B * P, R * M, [&](int64_t s, int64_t e) {
    for (int64_t w = s; w < e; ++w) {
      int64_t bi = w / P;
      const T* u = ap + w * M;
      for (int64_t j = 0; j < R; ++j) {
        const T* v = bp + (bi * R + j) * M;
        T acc = 0;
        for (int64_t c = 0; c < M; ++c) acc += (u[c] - v[c]) * (u[c] - v[c]);
        op[w * R + j] = std::sqrt(acc);
      }
    }
  });
}
}  // namespace detail

// The gradient is 0 where a distance is 0 (as PyTorch), not NaN.
template <typename T>
Tensor<T> cdist(const Tensor<T>& x1, const Tensor<T>& x2) {
  detail::check_same_device("cdist", x1, x2);
  LATENT_CHECK((x1.dim() == 2 || x1.dim() == 3) && x1.dim() == x2.dim(), "cdist: expected two 2-D or two 3-D "
               "tensors, got shapes ", x1.shape(), " and ", x2.shape());
  bool batched = x1.dim() == 3;
  auto a = batched ? x1.contiguous() : x1.unsqueeze(0).contiguous();
  auto b = batched ? x2.contiguous() : x2.unsqueeze(0).contiguous();
  LATENT_CHECK(a.shape()[0] == b.shape()[0] && a.shape()[2] == b.shape()[2], "cdist: shapes ", x1.shape(), " and ",
               x2.shape(), " are incompatible (batch and feature sizes must match)");
  int64_t B = a.shape()[0], P = a.shape()[1], R = b.shape()[1], M = a.shape()[2];
  auto out = Tensor<T>::empty(batched ? Shape{B, P, R} : Shape{P, R}, x1.device());
  if (x1.device().is_cuda()) {
    // (B, P, 1, M) - (B, 1, R, M) summed over M: the same sums as the loop below, in GPU ops.
    NoGradGuard no_grad;
    auto d2 = sum(square(sub(a.unsqueeze(2), b.unsqueeze(1))), {3});
    out = sqrt(d2).reshape(out.shape());
  } else {
    detail::cdist_kernel(a, b, out);
  }
  auto saved = std::make_shared<autograd::SavedVariable<T>>();
  autograd::record("cdist", out, {&x1, &x2},
                   [saved, s1 = autograd::SavedVariable<T>(x1, false), s2 = autograd::SavedVariable<T>(x2, false)](
                       const Tensor<T>& g, autograd::NeedsMask mk) {
    auto u = s1.unpack("cdist"), v = s2.unpack("cdist"), d = saved->unpack("cdist");
    auto zero_mask = eq(d.detach(), 0.0);
    auto ratio = where(zero_mask, zeros<T>(Shape{}, g.device()),
                       div(g, where(zero_mask, ones<T>(Shape{}, g.device()), d)));
    detail::Grads<T> r(2);
    if (autograd::needs(mk, 0)) r[0] = sub(mul(sum(ratio, {-1}, true), u), matmul(ratio, v));
    if (autograd::needs(mk, 1)) r[1] = sub(mul(sum(ratio, {-2}, false).unsqueeze(-1), v), matmul(ratio.transpose(-1, -2), u));
    return r;
  });
  if (out.grad_fn()) *saved = autograd::SavedVariable<T>(out, true);
  return out;
}

}  // namespace latent
