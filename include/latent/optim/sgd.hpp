// SGD with momentum, dampening, Nesterov, weight decay and maximize, exactly as
// torch.optim.SGD: g += wd p; buf = m buf + (1 - dampening) g (buf = g on the first step);
// g = nesterov ? g + m buf : buf; p -= lr g.
#pragma once
#include "optimizer.hpp"

namespace latent::optim {

struct SGDOptions {
  double lr = 1e-3, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false, maximize = false;
  void save(std::map<std::string, double>& m, const std::string& p) const {
    detail::put(m, p + "lr", lr); detail::put(m, p + "momentum", momentum); detail::put(m, p + "dampening", dampening);
    detail::put(m, p + "weight_decay", weight_decay); detail::put(m, p + "nesterov", nesterov);
    detail::put(m, p + "maximize", maximize);
  }
  void load(const std::map<std::string, double>& m, const std::string& p) {
    double n = nesterov, mx = maximize;
    detail::get(m, p + "lr", lr); detail::get(m, p + "momentum", momentum); detail::get(m, p + "dampening", dampening);
    detail::get(m, p + "weight_decay", weight_decay); detail::get(m, p + "nesterov", n); detail::get(m, p + "maximize", mx);
    nesterov = n != 0;
    maximize = mx != 0;
  }
};

template <typename T = float>
class SGD : public Optimizer<T, SGDOptions> {
 public:
  using Base = Optimizer<T, SGDOptions>;
  SGD(std::vector<Tensor<T>> params, SGDOptions options) : Base(std::move(params), check(options)) {}
  SGD(std::vector<typename Base::Group> groups, SGDOptions defaults) : Base(std::move(groups), check(defaults)) {}

  void step() override {
    NoGradGuard no_grad;
    for (auto& group : this->groups_) {
      const auto o = group.options;
      for (auto& p : group.params) {
        if (!p.grad().defined()) continue;
        auto& st = this->state(p);
        bool first = st.step == 0;
        st.step += 1;
        T* buf = o.momentum != 0 ? this->state_tensor(st, "momentum_buffer", p).data() : nullptr;
        const SgdRule<T> rule{T(o.lr), T(o.weight_decay), T(o.momentum), T(1 - o.dampening), first, o.nesterov,
                              o.maximize};
        if (p.is_cuda()) {
          detail::for_cuda_param("SGD", p, [&](T* w, const T* grad, int64_t n) {
            if constexpr (std::is_same_v<T, float>) cuda::backend().sgd_step_f32(p.device().index, w, grad, buf, n, rule);
            else cuda::backend().sgd_step_f64(p.device().index, w, grad, buf, n, rule);
          });
          continue;
        }
        detail::for_param("SGD", p, [&](T* w, const T* grad, int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) rule(i, w, grad, buf);
        });
      }
    }
  }

 private:
  static SGDOptions check(SGDOptions o) {
    LATENT_CHECK(o.lr >= 0, "SGD: invalid learning rate ", o.lr);
    LATENT_CHECK(o.momentum >= 0, "SGD: invalid momentum value ", o.momentum);
    LATENT_CHECK(o.weight_decay >= 0, "SGD: invalid weight_decay value ", o.weight_decay);
    LATENT_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
                 "SGD: Nesterov momentum requires a momentum and zero dampening");
    return o;
  }
};

}  // namespace latent::optim
