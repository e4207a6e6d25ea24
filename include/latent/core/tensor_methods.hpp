// Tensor<T>'s member functions: thin forwards to the free functions in ops/, so
// `x.relu().sum()` and `sum(relu(x))` are the same call.
#pragma once
#include "../autograd/functions.hpp"
#include "../ops/inplace.hpp"
#include "../ops/softmax.hpp"

namespace latent {

template <typename T>
T Tensor<T>::item() const {
  LATENT_CHECK(numel() == 1, "item: a Tensor with ", numel(), " elements (shape ", shape(),
               ") cannot be converted to a scalar");
  return to_vector()[0];
}
template <typename T>
std::vector<T> Tensor<T>::to_vector() const {
  Tensor c = is_cpu() ? contiguous() : latent::to_device(detach(), kCPU).contiguous();
  if (c.is_same(*this)) {
    const T* p = data();
    return std::vector<T>(p, p + numel());
  }
  NoGradGuard no_grad;
  Tensor h = is_cpu() ? latent::clone(detach()) : c;
  return std::vector<T>(h.data(), h.data() + h.numel());
}
template <typename T>
T Tensor<T>::at(std::initializer_list<int64_t> index) const {
  LATENT_CHECK(static_cast<int>(index.size()) == dim(), "at: expected ", dim(), " indices for shape ", shape(),
               ", got ", index.size());
  int64_t off = offset(), i = 0;
  for (int64_t v : index) {
    LATENT_CHECK(v >= 0 && v < shape()[i], "at: index ", v, " out of range for dim ", i, " of shape ", shape());
    off += v * strides()[i++];
  }
  if (is_cpu()) return static_cast<const T*>(storage()->data())[off];
  return detail::make_view(*this, Shape{}, Strides{}, off).item();
}
template <typename T>
Tensor<T>& Tensor<T>::requires_grad_(bool value) {
  static_assert(FloatingElement<T>, "requires_grad_: only float and double tensors can require gradients");
  LATENT_CHECK(value || is_leaf(), "requires_grad_: you can only change requires_grad flags of leaf variables; "
               "use detach() to get a tensor without history");
  impl().requires_grad = value;
  return *this;
}
template <typename T> Tensor<T> Tensor<T>::detach() const { return latent::detach(*this); }
template <typename T> Tensor<T> Tensor<T>::clone() const { return latent::clone(*this); }
template <typename T> Tensor<T> Tensor<T>::contiguous() const { return latent::contiguous(*this); }
template <typename T> Tensor<T> Tensor<T>::to(Device d) const { return latent::to_device(*this, d); }
template <typename T>
Tensor<T> Tensor<T>::pin_memory() const {
  LATENT_CHECK(is_cpu(), "pin_memory: only CPU tensors can be pinned, got a tensor on ", device(), " (shape ", shape(),
               ")");
  if (is_pinned()) return *this;
  auto src = contiguous();
  auto out = Tensor<T>::empty(shape(), kCPU, /*pinned=*/true);
  if (numel() > 0) std::memcpy(out.data(), src.data(), sizeof(T) * numel());
  return out;
}
template <typename T>
template <typename U>
Tensor<U> Tensor<T>::to() const {
  if constexpr (std::is_same_v<T, U>) {
    return *this;
  } else {
    auto src = cpu().contiguous();
    auto out = Tensor<U>::empty(shape(), kCPU);
    const T* s = src.data();
    U* d = out.data();
    for (int64_t i = 0; i < numel(); ++i) d[i] = static_cast<U>(s[i]);
    return is_cpu() ? out : out.to(device());
  }
}

template <typename T> Tensor<T> Tensor<T>::view(const Shape& s) const { return latent::view(*this, s); }
template <typename T> Tensor<T> Tensor<T>::reshape(const Shape& s) const { return latent::reshape(*this, s); }
template <typename T> Tensor<T> Tensor<T>::permute(const std::vector<int64_t>& d) const { return latent::permute(*this, d); }
template <typename T> Tensor<T> Tensor<T>::transpose(int64_t a, int64_t b) const { return latent::transpose(*this, a, b); }
template <typename T> Tensor<T> Tensor<T>::t() const {
  LATENT_CHECK(dim() <= 2, "t: expects a tensor with <= 2 dimensions, but got shape ", shape());
  return dim() < 2 ? *this : latent::transpose(*this, 0, 1);
}
template <typename T> Tensor<T> Tensor<T>::squeeze() const { return latent::squeeze(*this); }
template <typename T> Tensor<T> Tensor<T>::squeeze(int64_t d) const { return latent::squeeze(*this, d); }
template <typename T> Tensor<T> Tensor<T>::unsqueeze(int64_t d) const { return latent::unsqueeze(*this, d); }
template <typename T> Tensor<T> Tensor<T>::expand(const Shape& s) const { return latent::expand(*this, s); }
template <typename T> Tensor<T> Tensor<T>::flatten(int64_t a, int64_t b) const { return latent::flatten(*this, a, b); }
template <typename T> Tensor<T> Tensor<T>::narrow(int64_t d, int64_t s, int64_t l) const { return latent::narrow(*this, d, s, l); }
template <typename T> Tensor<T> Tensor<T>::slice(int64_t d, int64_t s, int64_t e, int64_t st) const {
  return latent::slice(*this, d, s, e, st);
}
template <typename T> Tensor<T> Tensor<T>::select(int64_t d, int64_t i) const { return latent::select(*this, d, i); }
template <typename T> std::vector<Tensor<T>> Tensor<T>::split(int64_t s, int64_t d) const { return latent::split(*this, s, d); }
template <typename T> std::vector<Tensor<T>> Tensor<T>::chunk(int64_t c, int64_t d) const { return latent::chunk(*this, c, d); }

template <typename T> Tensor<T> Tensor<T>::add(const Tensor& o) const { return latent::add(*this, o); }
template <typename T> Tensor<T> Tensor<T>::sub(const Tensor& o) const { return latent::sub(*this, o); }
template <typename T> Tensor<T> Tensor<T>::mul(const Tensor& o) const { return latent::mul(*this, o); }
template <typename T> Tensor<T> Tensor<T>::div(const Tensor& o) const { return latent::div(*this, o); }
template <typename T> Tensor<T> Tensor<T>::pow(const Tensor& o) const { return latent::pow(*this, o); }
template <typename T> Tensor<T> Tensor<T>::pow(double e) const { return latent::pow(*this, e); }
template <typename T> Tensor<T> Tensor<T>::neg() const { return latent::neg(*this); }
template <typename T> Tensor<T> Tensor<T>::exp() const { return latent::exp(*this); }
template <typename T> Tensor<T> Tensor<T>::log() const { return latent::log(*this); }
template <typename T> Tensor<T> Tensor<T>::log1p() const { return latent::log1p(*this); }
template <typename T> Tensor<T> Tensor<T>::expm1() const { return latent::expm1(*this); }
template <typename T> Tensor<T> Tensor<T>::sqrt() const { return latent::sqrt(*this); }
template <typename T> Tensor<T> Tensor<T>::rsqrt() const { return latent::rsqrt(*this); }
template <typename T> Tensor<T> Tensor<T>::abs() const { return latent::abs(*this); }
template <typename T> Tensor<T> Tensor<T>::sign() const { return latent::sign(*this); }
template <typename T> Tensor<T> Tensor<T>::sin() const { return latent::sin(*this); }
template <typename T> Tensor<T> Tensor<T>::cos() const { return latent::cos(*this); }
template <typename T> Tensor<T> Tensor<T>::tanh() const { return latent::tanh(*this); }
template <typename T> Tensor<T> Tensor<T>::sigmoid() const { return latent::sigmoid(*this); }
template <typename T> Tensor<T> Tensor<T>::relu() const { return latent::relu(*this); }
template <typename T> Tensor<T> Tensor<T>::erf() const { return latent::erf(*this); }
template <typename T> Tensor<T> Tensor<T>::square() const { return latent::mul(*this, *this); }
template <typename T> Tensor<T> Tensor<T>::leaky_relu(double s) const { return latent::leaky_relu(*this, s); }
template <typename T> Tensor<T> Tensor<T>::clamp(double lo, double hi) const { return latent::clamp(*this, lo, hi); }
template <typename T> Tensor<T> Tensor<T>::clamp_min(double lo) const { return latent::clamp_min(*this, lo); }
template <typename T> Tensor<T> Tensor<T>::clamp_max(double hi) const { return latent::clamp_max(*this, hi); }
template <typename T> Tensor<T> Tensor<T>::eq(const Tensor& o) const { return latent::eq(*this, o); }
template <typename T> Tensor<T> Tensor<T>::ne(const Tensor& o) const { return latent::ne(*this, o); }
template <typename T> Tensor<T> Tensor<T>::lt(const Tensor& o) const { return latent::lt(*this, o); }
template <typename T> Tensor<T> Tensor<T>::le(const Tensor& o) const { return latent::le(*this, o); }
template <typename T> Tensor<T> Tensor<T>::gt(const Tensor& o) const { return latent::gt(*this, o); }
template <typename T> Tensor<T> Tensor<T>::ge(const Tensor& o) const { return latent::ge(*this, o); }

template <typename T> Tensor<T> Tensor<T>::sum() const { return latent::sum(*this); }
template <typename T> Tensor<T> Tensor<T>::sum(const std::vector<int64_t>& d, bool k) const { return latent::sum(*this, d, k); }
template <typename T> Tensor<T> Tensor<T>::mean() const { return latent::mean(*this); }
template <typename T> Tensor<T> Tensor<T>::mean(const std::vector<int64_t>& d, bool k) const { return latent::mean(*this, d, k); }
template <typename T> Tensor<T> Tensor<T>::var(bool u) const { return latent::var(*this, {}, u, false); }
template <typename T> Tensor<T> Tensor<T>::var(const std::vector<int64_t>& d, bool u, bool k) const {
  return latent::var(*this, d, u, k);
}
template <typename T> Tensor<T> Tensor<T>::std(bool u) const { return latent::std(*this, {}, u, false); }
template <typename T> Tensor<T> Tensor<T>::std(const std::vector<int64_t>& d, bool u, bool k) const {
  return latent::std(*this, d, u, k);
}
template <typename T> Tensor<T> Tensor<T>::max() const { return latent::max(*this); }
template <typename T> Tensor<T> Tensor<T>::min() const { return latent::min(*this); }
template <typename T> Tensor<T> Tensor<T>::amax(const std::vector<int64_t>& d, bool k) const { return latent::amax(*this, d, k); }
template <typename T> Tensor<T> Tensor<T>::amin(const std::vector<int64_t>& d, bool k) const { return latent::amin(*this, d, k); }
template <typename T> IndexTensor Tensor<T>::argmax(int64_t d, bool k) const { return latent::argmax(*this, d, k); }
template <typename T> IndexTensor Tensor<T>::argmin(int64_t d, bool k) const { return latent::argmin(*this, d, k); }
template <typename T> Tensor<T> Tensor<T>::logsumexp(const std::vector<int64_t>& d, bool k) const {
  return latent::logsumexp(*this, d, k);
}
template <typename T> Tensor<T> Tensor<T>::norm(double p) const { return latent::norm(*this, p); }
template <typename T> Tensor<T> Tensor<T>::norm(double p, const std::vector<int64_t>& d, bool k) const {
  return latent::norm(*this, p, d, k);
}
template <typename T> Tensor<T> Tensor<T>::softmax(int64_t d) const { return latent::softmax(*this, d); }
template <typename T> Tensor<T> Tensor<T>::log_softmax(int64_t d) const { return latent::log_softmax(*this, d); }

template <typename T> Tensor<T> Tensor<T>::matmul(const Tensor& o) const { return latent::matmul(*this, o); }
template <typename T> Tensor<T> Tensor<T>::mm(const Tensor& o) const { return latent::mm(*this, o); }
template <typename T> Tensor<T> Tensor<T>::bmm(const Tensor& o) const { return latent::bmm(*this, o); }

}  // namespace latent
