// RMSprop as torch.optim.RMSprop:
//   g += wd p;  s = alpha s + (1 - alpha) g^2
//   centered: a = alpha a + (1 - alpha) g;  avg = sqrt(s - a^2) + eps;  else avg = sqrt(s) + eps
//   momentum > 0: buf = momentum buf + g / avg; p -= lr buf;   else p -= lr g / avg
#pragma once
#include "optimizer.hpp"

namespace latent::optim {

struct RMSpropOptions {
  double lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0;
  bool centered = false, maximize = false;
  void save(std::map<std::string, double>& m, const std::string& p) const {
    detail::put(m, p + "lr", lr); detail::put(m, p + "alpha", alpha); detail::put(m, p + "eps", eps);
    detail::put(m, p + "weight_decay", weight_decay); detail::put(m, p + "momentum", momentum);
    detail::put(m, p + "centered", centered); detail::put(m, p + "maximize", maximize);
  }
  void load(const std::map<std::string, double>& m, const std::string& p) {
    double c = centered, mx = maximize;
    detail::get(m, p + "lr", lr); detail::get(m, p + "alpha", alpha); detail::get(m, p + "eps", eps);
    detail::get(m, p + "weight_decay", weight_decay); detail::get(m, p + "momentum", momentum);
    detail::get(m, p + "centered", c); detail::get(m, p + "maximize", mx);
    centered = c != 0;
    maximize = mx != 0;
  }
};

template <typename T = float>
class RMSprop : public Optimizer<T, RMSpropOptions> {
 public:
  using Base = Optimizer<T, RMSpropOptions>;
  RMSprop(std::vector<Tensor<T>> params, RMSpropOptions o) : Base(std::move(params), check(o)) {}
  RMSprop(std::vector<typename Base::Group> groups, RMSpropOptions o) : Base(std::move(groups), check(o)) {}

  void step() override {
    NoGradGuard no_grad;
    for (auto& group : this->groups_) {
      const auto o = group.options;
      for (auto& p : group.params) {
        if (!p.grad().defined()) continue;
        auto& st = this->state(p);
        st.step += 1;
        T* s = this->state_tensor(st, "square_avg", p).data();
        T* a = o.centered ? this->state_tensor(st, "grad_avg", p).data() : nullptr;
        T* buf = o.momentum > 0 ? this->state_tensor(st, "momentum_buffer", p).data() : nullptr;
        const T lr = T(o.lr), alpha = T(o.alpha), eps = T(o.eps), wd = T(o.weight_decay), mom = T(o.momentum);
        const T one_minus_alpha = T(1 - o.alpha);  // in double, then rounded, as PyTorch's value=1 - alpha
        const RmspropRule<T> rule{lr, alpha, one_minus_alpha, eps, wd, mom, o.maximize};
        if (p.is_cuda()) {
          detail::for_cuda_param("RMSprop", p, [&](T* w, const T* grad, int64_t n) {
            if constexpr (std::is_same_v<T, float>) cuda::backend().rmsprop_step_f32(p.device().index, w, grad, s, a, buf, n, rule);
            else cuda::backend().rmsprop_step_f64(p.device().index, w, grad, s, a, buf, n, rule);
          });
          continue;
        }
        detail::for_param("RMSprop", p, [&](T* w, const T* grad, int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) rule(i, w, grad, s, a, buf);
        });
      }
    }
  }

 private:
  static RMSpropOptions check(RMSpropOptions o) {
    LATENT_CHECK(o.lr >= 0, "RMSprop: invalid learning rate ", o.lr);
    LATENT_CHECK(o.eps >= 0, "RMSprop: invalid epsilon value ", o.eps);
    LATENT_CHECK(o.alpha >= 0, "RMSprop: invalid alpha value ", o.alpha);
    LATENT_CHECK(o.momentum >= 0, "RMSprop: invalid momentum value ", o.momentum);
    LATENT_CHECK(o.weight_decay >= 0, "RMSprop: invalid weight_decay value ", o.weight_decay);
    return o;
  }
};

}  // namespace latent::optim
