// In-place ops (add_, mul_, copy_, fill_, clamp_, ...). Each bumps the storage's version
// counter, so a backward that saved the old values throws instead of using new ones.
// With autograd recording, an in-place op on a non-leaf rebases its history: the tensor's
// node becomes the op's node, whose input is the tensor's previous value.
#pragma once
#include "linalg.hpp"

namespace latent {

namespace detail {
// Runs `out_of_place(previous)` and writes the result into self, keeping autograd right.
// `previous` shares self's storage, which is overwritten next: an out_of_place whose backward
// saves its input must be given a clone (see inplace_input), or backward would throw.
template <typename T, typename F>
Tensor<T>& apply_inplace(Tensor<T>& self, const char* op, std::initializer_list<const Tensor<T>*> others,
                         F out_of_place, bool* recorded = nullptr) {
  bool needs_graph = false;
  if constexpr (FloatingElement<T>) {
    if (is_grad_enabled()) {
      needs_graph = self.requires_grad();
      for (auto* o : others) needs_graph = needs_graph || o->requires_grad();
    }
  }
  if (recorded) *recorded = needs_graph;
  if (!needs_graph) return self;
  LATENT_CHECK(!(self.is_leaf() && self.requires_grad()), op, ": a leaf tensor that requires grad (shape ",
               self.shape(), ") is being used in an in-place operation; wrap it in NoGradGuard or use the "
               "out-of-place op");
  LATENT_CHECK(!self.is_view(), op, ": in-place operation on a view (shape ", self.shape(), ") while recording "
               "gradients is not supported; use the out-of-place op");
  auto previous = std::make_shared<TensorImpl<T>>(self.impl());
  Tensor<T> result = out_of_place(Tensor<T>(previous));
  LATENT_CHECK(result.shape() == self.shape(), op, ": output of shape ", result.shape(),
               " does not match the in-place target's shape ", self.shape());
  copy_strided(self, result, result.strides());
  self.bump_version();
  self.impl().grad_fn = result.grad_fn();
  self.impl().requires_grad = result.requires_grad();
  return self;
}

// The old value of self for formulas that save it for backward: a copy, kept intact when
// self's storage is overwritten (PyTorch saves `original_self` the same way).
template <typename T>
Tensor<T> inplace_input(const Tensor<T>& previous) { return clone(previous); }

template <typename T>
void check_inplace_broadcast(const char* op, const Tensor<T>& self, const Tensor<T>& other) {
  Shape s = broadcast_shapes(self.shape(), other.shape(), op);
  LATENT_CHECK(s == self.shape(), op, ": output with shape ", self.shape(),
               " doesn't match the broadcast shape ", s, " (other has shape ", other.shape(), ")");
}

// self = f(self, other) element-wise, in place, no graph (f from backend/pointwise.hpp).
template <pointwise::Binary fn, typename T>
void binary_inplace_kernel(const char* op, Tensor<T>& self, const Tensor<T>& other) {
  check_same_device(op, self, other);
  check_inplace_broadcast(op, self, other);
  Strides so = broadcast_strides(other, self.shape());
  if (self.device().is_cuda()) {
    if constexpr (is_cuda_type<T>) {
      if (self.numel() == 0) return;
      auto d = strided_desc(self.shape(), self, self.strides(), 0, &so, 0);
      if constexpr (std::is_same_v<T, float>)
        cuda::backend().binary_f32(self.device().index, fn, self.data(), self.data(), other.data(), d);
      else
        cuda::backend().binary_f64(self.device().index, fn, self.data(), self.data(), other.data(), d);
    } else {
      cuda_type_error(op, self);
    }
    return;
  }
  cpu::binary_loop(self.shape(), self.data(), self.strides(), self.data(), self.strides(), other.data(), so,
                   pointwise::BinaryFn<fn, T>{});
}

// self = f(self; p0, p1) element-wise, in place, no graph.
template <pointwise::Unary fn, typename T>
void unary_inplace_kernel(const char* op, Tensor<T>& self, double p0 = 0, double p1 = 0) {
  if (self.device().is_cuda()) {
    if constexpr (is_cuda_type<T>) {
      if (self.numel() == 0) return;
      auto d = strided_desc(self.shape(), self, self.strides(), 0);
      if constexpr (std::is_same_v<T, float>)
        cuda::backend().unary_f32(self.device().index, fn, self.data(), self.data(), d, p0, p1);
      else
        cuda::backend().unary_f64(self.device().index, fn, self.data(), self.data(), d, p0, p1);
    } else {
      cuda_type_error(op, self);
    }
    return;
  }
  cpu::unary_loop(self.shape(), self.data(), self.strides(), self.data(), self.strides(),
                  pointwise::UnaryFn<fn, T>{p0, p1});
}
}  // namespace detail

template <typename T>
Tensor<T>& Tensor<T>::add_(const Tensor& o, double alpha) {
  bool recorded;
  detail::apply_inplace(*this, "add_", {&o}, [&](const Tensor& prev) {
    return alpha == 1 ? latent::add(prev, o) : latent::add(prev, latent::mul(o, alpha));
  }, &recorded);
  if (recorded) return *this;
  if (alpha == 1) {
    detail::binary_inplace_kernel<pointwise::Binary::Add>("add_", *this, o);
  } else if (is_cuda()) {
    detail::check_same_device("add_", *this, o);
    NoGradGuard no_grad;
    detail::binary_inplace_kernel<pointwise::Binary::Add>("add_", *this, latent::mul(o.detach(), alpha));
  } else {
    detail::check_same_device("add_", *this, o);
    detail::check_inplace_broadcast("add_", *this, o);
    cpu::binary_loop(shape(), data(), strides(), data(), strides(), o.data(), detail::broadcast_strides(o, shape()),
                     [al = T(alpha)](T a, T b) { return a + al * b; });
  }
  bump_version();
  return *this;
}
template <typename T>
Tensor<T>& Tensor<T>::sub_(const Tensor& o) {
  bool recorded;
  detail::apply_inplace(*this, "sub_", {&o}, [&](const Tensor& prev) { return latent::sub(prev, o); }, &recorded);
  if (recorded) return *this;
  detail::binary_inplace_kernel<pointwise::Binary::Sub>("sub_", *this, o);
  bump_version();
  return *this;
}
template <typename T>
Tensor<T>& Tensor<T>::mul_(const Tensor& o) {
  bool recorded;
  detail::apply_inplace(*this, "mul_", {&o}, [&](const Tensor& prev) {
    return latent::mul(o.requires_grad() ? detail::inplace_input(prev) : prev, o);
  }, &recorded);
  if (recorded) return *this;
  detail::binary_inplace_kernel<pointwise::Binary::Mul>("mul_", *this, o);
  bump_version();
  return *this;
}
template <typename T>
Tensor<T>& Tensor<T>::div_(const Tensor& o) {
  bool recorded;
  detail::apply_inplace(*this, "div_", {&o}, [&](const Tensor& prev) {
    return latent::div(o.requires_grad() ? detail::inplace_input(prev) : prev, o);
  }, &recorded);
  if (recorded) return *this;
  detail::binary_inplace_kernel<pointwise::Binary::Div>("div_", *this, o);
  bump_version();
  return *this;
}
template <typename T>
Tensor<T>& Tensor<T>::add_(double v) {
  bool recorded;
  detail::apply_inplace(*this, "add_", {}, [&](const Tensor& prev) { return latent::add(prev, v); }, &recorded);
  if (recorded) return *this;
  detail::unary_inplace_kernel<pointwise::Unary::AddScalar>("add_", *this, v);
  bump_version();
  return *this;
}
template <typename T>
Tensor<T>& Tensor<T>::mul_(double v) {
  bool recorded;
  detail::apply_inplace(*this, "mul_", {}, [&](const Tensor& prev) { return latent::mul(prev, v); }, &recorded);
  if (recorded) return *this;
  detail::unary_inplace_kernel<pointwise::Unary::MulScalar>("mul_", *this, v);
  bump_version();
  return *this;
}
// Copies src (broadcast to self's shape, any device) into self.
template <typename T>
Tensor<T>& Tensor<T>::copy_(const Tensor& src) {
  bool recorded;
  Tensor s = src.device() == device() ? src : latent::to_device(src, device());
  detail::apply_inplace(*this, "copy_", {&s}, [&](const Tensor& prev) {
    return latent::add(latent::mul(prev, 0.0), s.expand(shape()));
  }, &recorded);
  if (recorded) return *this;
  detail::check_inplace_broadcast("copy_", *this, s);
  detail::copy_strided(*this, s, detail::broadcast_strides(s, shape()));
  bump_version();
  return *this;
}
template <typename T>
Tensor<T>& Tensor<T>::fill_(double v) {
  LATENT_CHECK(!(is_grad_enabled() && is_leaf() && requires_grad()), "fill_: a leaf tensor that requires grad "
               "(shape ", shape(), ") is being used in an in-place operation; wrap it in NoGradGuard");
  // Resetting a view's history would leave its base's graph unaware of the overwrite.
  LATENT_CHECK(!(is_grad_enabled() && requires_grad() && is_view()), "fill_: in-place operation on a view (shape ",
               shape(), ") while recording gradients is not supported; use the out-of-place op");
  if (is_contiguous()) {
    Tensor flat = detail::make_view(*this, Shape{numel()}, Strides{1}, offset());
    fill_buffer(flat, T(v));
  } else {
    auto value = latent::full<T>(Shape{}, T(v), device());
    detail::copy_strided(*this, value, Strides(Shape(std::vector<int64_t>(dim(), 0))));
  }
  if (is_grad_enabled() && requires_grad()) {  // a filled non-leaf no longer depends on its history
    impl().grad_fn.reset();
    impl().requires_grad = false;
  }
  bump_version();
  return *this;
}
template <typename T>
Tensor<T>& Tensor<T>::zero_() { return fill_(0); }
template <typename T>
Tensor<T>& Tensor<T>::clamp_(double lo, double hi) {
  bool recorded;
  detail::apply_inplace(*this, "clamp_", {}, [&](const Tensor& prev) {
    return latent::clamp(detail::inplace_input(prev), lo, hi);
  }, &recorded);
  if (recorded) return *this;
  detail::unary_inplace_kernel<pointwise::Unary::Clamp>("clamp_", *this, lo, hi);
  bump_version();
  return *this;
}
template <typename T>
Tensor<T>& Tensor<T>::relu_() { return clamp_(0, std::numeric_limits<double>::infinity()); }

}  // namespace latent
