// Adam and AdamW as torch.optim.Adam/AdamW (single-tensor path):
//   Adam: g += wd p;  AdamW: p *= 1 - lr wd
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  (amsgrad: v_max = max(v_max, v))
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// The update is one fused pass per parameter (no temporaries).
#pragma once
#include <Eigen/Core>

#include <algorithm>

#include "optimizer.hpp"

namespace latent::optim {

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool amsgrad = false, maximize = false;
  void save(std::map<std::string, double>& m, const std::string& p) const {
    detail::put(m, p + "lr", lr); detail::put(m, p + "beta1", beta1); detail::put(m, p + "beta2", beta2);
    detail::put(m, p + "eps", eps); detail::put(m, p + "weight_decay", weight_decay);
    detail::put(m, p + "amsgrad", amsgrad); detail::put(m, p + "maximize", maximize);
  }
  void load(const std::map<std::string, double>& m, const std::string& p) {
    double a = amsgrad, mx = maximize;
    detail::get(m, p + "lr", lr); detail::get(m, p + "beta1", beta1); detail::get(m, p + "beta2", beta2);
    detail::get(m, p + "eps", eps); detail::get(m, p + "weight_decay", weight_decay);
    detail::get(m, p + "amsgrad", a); detail::get(m, p + "maximize", mx);
    amsgrad = a != 0;
    maximize = mx != 0;
  }
};

namespace detail {
template <typename T>
class AdamImpl : public Optimizer<T, AdamOptions> {
 public:
  using Base = Optimizer<T, AdamOptions>;
  AdamImpl(std::vector<Tensor<T>> params, AdamOptions o, bool decoupled)
      : Base(std::move(params), check(o)), decoupled_(decoupled) {}
  AdamImpl(std::vector<typename Base::Group> groups, AdamOptions o, bool decoupled)
      : Base(std::move(groups), check(o)), decoupled_(decoupled) {}

  void step() override {
    NoGradGuard no_grad;
    for (auto& group : this->groups_) {
      const auto o = group.options;
      for (auto& p : group.params) {
        if (!p.grad().defined()) continue;
        auto& st = this->state(p);
        st.step += 1;
        T* m = this->state_tensor(st, "exp_avg", p).data();
        T* v = this->state_tensor(st, "exp_avg_sq", p).data();
        T* vmax = o.amsgrad ? this->state_tensor(st, "max_exp_avg_sq", p).data() : nullptr;
        const double bias1 = 1 - std::pow(o.beta1, st.step), bias2 = 1 - std::pow(o.beta2, st.step);
        const T step_size = T(o.lr / bias1), bias2_sqrt = T(std::sqrt(bias2));
        // 1 - beta in double, then rounded (as PyTorch's Python-float weights): in float,
        // 1 - float(0.999) is 1.3e-5 away from float(0.001), which shifts every step.
        const T b2 = T(o.beta2), one_minus_b1 = T(1 - o.beta1), one_minus_b2 = T(1 - o.beta2);
        const T eps = T(o.eps), wd = T(o.weight_decay);
        const T decay = T(1 - o.lr * o.weight_decay);
        const AdamRule<T> rule{step_size, bias2_sqrt, b2, one_minus_b1, one_minus_b2, eps, wd, decay, decoupled_,
                               o.maximize};
        const char* name = decoupled_ ? "AdamW" : "Adam";
        if (p.is_cuda()) {
          detail::for_cuda_param(name, p, [&](T* w, const T* grad, int64_t n) {
            if constexpr (std::is_same_v<T, float>) cuda::backend().adam_step_f32(p.device().index, w, grad, m, v, vmax, n, rule);
            else cuda::backend().adam_step_f64(p.device().index, w, grad, m, v, vmax, n, rule);
          });
          continue;
        }
        detail::for_param(name, p, [&](T* w, const T* grad, int64_t begin, int64_t end) {
          if (!vmax && wd == T(0) && !o.maximize) {
            // The default options with Eigen's packet math: a plain loop stays scalar, as
            // std::sqrt may set errno and so cannot be vectorised without -fno-math-errno
            // (4x slower). The same operations as the general rule, in the same order,
            // over blocks small enough that the three passes reuse L1.
            using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
            constexpr int64_t kBlock = 1024;
            for (int64_t s = begin; s < end; s += kBlock) {
              const int64_t n = std::min(kBlock, end - s);
              Eigen::Map<Array> W(w + s, n), M(m + s, n), V(v + s, n);
              Eigen::Map<const Array> G(grad + s, n);
              M += (G - M) * one_minus_b1;
              V = V * b2 + one_minus_b2 * G * G;
              W -= step_size * M / (V.sqrt() / bias2_sqrt + eps);
            }
            return;
          }
          for (int64_t i = begin; i < end; ++i) rule(i, w, grad, m, v, vmax);
        });
      }
    }
  }

 private:
  static AdamOptions check(AdamOptions o) {
    LATENT_CHECK(o.lr >= 0, "Adam: invalid learning rate ", o.lr);
    LATENT_CHECK(o.eps >= 0, "Adam: invalid epsilon value ", o.eps);
    LATENT_CHECK(o.beta1 >= 0 && o.beta1 < 1, "Adam: invalid beta parameter at index 0: ", o.beta1);
    LATENT_CHECK(o.beta2 >= 0 && o.beta2 < 1, "Adam: invalid beta parameter at index 1: ", o.beta2);
    LATENT_CHECK(o.weight_decay >= 0, "Adam: invalid weight_decay value ", o.weight_decay);
    return o;
  }
  bool decoupled_;
};
}  // namespace detail

template <typename T = float>
class Adam : public detail::AdamImpl<T> {
 public:
  Adam(std::vector<Tensor<T>> params, AdamOptions o) : detail::AdamImpl<T>(std::move(params), o, false) {}
  Adam(std::vector<typename detail::AdamImpl<T>::Base::Group> groups, AdamOptions o)
      : detail::AdamImpl<T>(std::move(groups), o, false) {}
};

// AdamW: decoupled weight decay; PyTorch's default weight_decay is 1e-2.
template <typename T = float>
class AdamW : public detail::AdamImpl<T> {
 public:
  static AdamOptions defaults() {
    AdamOptions o;
    o.weight_decay = 1e-2;
    return o;
  }
  AdamW(std::vector<Tensor<T>> params, AdamOptions o = defaults()) : detail::AdamImpl<T>(std::move(params), o, true) {}
  AdamW(std::vector<typename detail::AdamImpl<T>::Base::Group> groups, AdamOptions o)
      : detail::AdamImpl<T>(std::move(groups), o, true) {}
};

}  // namespace latent::optim
