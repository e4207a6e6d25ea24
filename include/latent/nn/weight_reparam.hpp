// Weight re-parametrisations as torch.nn.utils.spectral_norm and torch.nn.utils.weight_norm
// (the classic hook-based versions, whose state_dict layout GAN checkpoints use):
//
//   auto conv = nn::utils::spectral_norm(std::make_shared<nn::Conv2d<float>>(64, 128, 4, ...));
//   // parameters: weight_orig, bias; buffers: weight_u, weight_v
//   auto y = (*conv)(x);   // the pre-forward hook recomputes weight = weight_orig / sigma
//
// The hook runs when the module is called through operator() (as Sequential does), not by
// a direct call of forward(), exactly as PyTorch's hooks run in __call__ only. Apply these
// before building an optimizer over the module's parameters: `weight` stops being a
// parameter and `weight_orig` (or `weight_g`, `weight_v`) takes its place.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "init.hpp"
#include "module.hpp"

namespace latent::nn::utils {

namespace detail {

// Points the module's own handle to `name` at `value`'s tensor (graph included): the
// equivalent of PyTorch's `setattr(module, name, weight)` in a pre-forward hook, done on
// the shared TensorImpl because layers read their weight through a member handle.
template <typename T>
void rebind(const Tensor<T>& handle, const Tensor<T>& value) {
  handle.impl() = value.impl();
}

// A new leaf holding `t`'s current values (sharing its storage), detached from `t`'s handle.
template <typename T>
Tensor<T> fresh_leaf(const Tensor<T>& t) {
  auto impl = std::make_shared<TensorImpl<T>>();
  impl->storage = t.impl().storage;
  impl->offset = t.impl().offset;
  impl->shape = t.impl().shape;
  impl->strides = t.impl().strides;
  return Tensor<T>(std::move(impl));
}

// weight viewed as a matrix with `dim` as rows (PyTorch's reshape_weight_to_matrix).
template <typename T>
Tensor<T> weight_matrix(const Tensor<T>& w, int64_t dim) {
  if (dim != 0) {
    std::vector<int64_t> order{dim};
    for (int64_t d = 0; d < w.dim(); ++d)
      if (d != dim) order.push_back(d);
    return w.permute(order).reshape({w.shape()[dim], -1});
  }
  return w.reshape({w.shape()[0], -1});
}

// x / max(||x||_2, eps), as F.normalize.
template <typename T>
Tensor<T> normalize(const Tensor<T>& x, double eps) {
  return x / x.norm(2.0, {}, false).clamp_min(eps);
}

}  // namespace detail

struct SpectralNormOptions {
  int64_t n_power_iterations = 1;
  double eps = 1e-12;
  std::optional<int64_t> dim;  // default: 1 for ConvTranspose2d, else 0 (as PyTorch)
};

// Spectral normalisation of `module`'s parameter `name`: weight = weight_orig / sigma, with
// sigma estimated by power iteration on u, v buffers (updated in training mode only).
// u and v start as normalised N(0, 1) draws from the default generator.
template <typename M>
std::shared_ptr<M> spectral_norm(std::shared_ptr<M> module, const std::string& name = "weight",
                                 SpectralNormOptions options = {}) {
  using T = typename M::value_type;
  LATENT_CHECK(module != nullptr, "spectral_norm: null module");
  LATENT_CHECK(options.n_power_iterations >= 0, "spectral_norm: n_power_iterations must be >= 0, got ",
               options.n_power_iterations);
  LATENT_CHECK(options.eps > 0, "spectral_norm: eps must be positive, got ", options.eps);
  Tensor<T> weight = module->unregister_parameter(name);
  const int64_t dim = options.dim.value_or(module->type_name() == "ConvTranspose2d" ? 1 : 0);
  LATENT_CHECK(dim >= 0 && dim < weight.dim(), "spectral_norm: dim ", dim, " is out of range for the ",
               weight.dim(), "-d parameter '", name, "' of shape ", weight.shape());
  Tensor<T> orig = detail::fresh_leaf(weight);
  module->register_parameter(name + "_orig", orig);
  Tensor<T> u, v;
  {
    NoGradGuard no_grad;
    auto mat = detail::weight_matrix(orig, dim);
    u = detail::normalize(randn<T>({mat.shape()[0]}, default_generator(), orig.device()), options.eps);
    v = detail::normalize(randn<T>({mat.shape()[1]}, default_generator(), orig.device()), options.eps);
  }
  module->register_buffer(name + "_u", u);
  module->register_buffer(name + "_v", v);
  // The hook looks tensors up by name each call, so load_state_dict and to(device), which
  // replace data in place, are seen.
  module->register_forward_pre_hook([name, dim, options, weight](Module<T>& m) {
    Tensor<T> w_orig = m.parameter(name + "_orig");
    Tensor<T> u_buf = m.buffer(name + "_u"), v_buf = m.buffer(name + "_v");
    auto mat = detail::weight_matrix(w_orig, dim);
    if (m.is_training() && options.n_power_iterations > 0) {
      NoGradGuard no_grad;
      auto m_const = mat.detach();
      Tensor<T> uu = u_buf, vv = v_buf;
      for (int64_t i = 0; i < options.n_power_iterations; ++i) {
        vv = detail::normalize(m_const.t().matmul(uu), options.eps);
        uu = detail::normalize(m_const.matmul(vv), options.eps);
      }
      u_buf.copy_(uu);
      v_buf.copy_(vv);
    }
    Tensor<T> u = u_buf.detach().clone(), v = v_buf.detach().clone();
    Tensor<T> sigma = (u * mat.matmul(v)).sum();
    detail::rebind(weight, w_orig / sigma);
  });
  return module;
}

// Weight normalisation of `module`'s parameter `name`: weight = g * v / ||v||, the norm
// taken over every dim but `dim` (all dims when dim is nullopt, PyTorch's dim=None).
// Parameters `<name>_g` (the norms, shape 1 except along dim) and `<name>_v`.
template <typename M>
std::shared_ptr<M> weight_norm(std::shared_ptr<M> module, const std::string& name = "weight",
                               std::optional<int64_t> dim = 0) {
  using T = typename M::value_type;
  LATENT_CHECK(module != nullptr, "weight_norm: null module");
  Tensor<T> weight = module->unregister_parameter(name);
  if (dim) {
    if (*dim < 0) *dim += weight.dim();
    LATENT_CHECK(*dim >= 0 && *dim < weight.dim(), "weight_norm: dim is out of range for the ", weight.dim(),
                 "-d parameter '", name, "' of shape ", weight.shape());
  }
  auto norm_except_dim = [dim](const Tensor<T>& v) {
    if (!dim) return v.norm(2.0, {}, false);
    std::vector<int64_t> dims;
    for (int64_t d = 0; d < v.dim(); ++d)
      if (d != *dim) dims.push_back(d);
    return dims.empty() ? v.abs() : v.norm(2.0, dims, true);
  };
  Tensor<T> v = detail::fresh_leaf(weight);
  Tensor<T> g;
  {
    NoGradGuard no_grad;
    g = norm_except_dim(v).clone();
  }
  module->register_parameter(name + "_g", g);
  module->register_parameter(name + "_v", v);
  module->register_forward_pre_hook([name, norm_except_dim, weight](Module<T>& m) {
    Tensor<T> g_p = m.parameter(name + "_g"), v_p = m.parameter(name + "_v");
    detail::rebind(weight, v_p * (g_p / norm_except_dim(v_p)));
  });
  return module;
}

}  // namespace latent::nn::utils
