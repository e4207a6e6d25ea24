// Exponential moving average of a module's weights, as diffusion and GAN trainers use it
// (timm's ModelEmaV2 / diffusers' EMAModel without warm-up): after each optimizer step,
//   shadow = decay * shadow + (1 - decay) * param;  buffers are copied.
// copy_to(model) loads the averaged weights into a model of the same architecture.
#pragma once
#include "optimizer.hpp"

namespace latent::optim {

template <typename T = float>
class EMA {
 public:
  EMA(const nn::Module<T>& model, double decay = 0.999) : decay_(decay) {
    LATENT_CHECK(decay >= 0 && decay <= 1, "EMA: decay must be in [0, 1], got ", decay);
    NoGradGuard no_grad;
    for (auto& [name, t] : model.state_dict()) shadow_.emplace_back(name, t.detach().clone());
  }
  void update(const nn::Module<T>& model) {
    NoGradGuard no_grad;
    auto params = model.named_parameters();
    auto state = model.state_dict();
    LATENT_CHECK(state.size() == shadow_.size(), "EMA.update: the model has ", state.size(), " tensors, the average ",
                 shadow_.size());
    for (size_t i = 0; i < state.size(); ++i) {
      auto& [name, avg] = shadow_[i];
      LATENT_CHECK(state[i].first == name, "EMA.update: tensor ", i, " is '", state[i].first, "', expected '", name, "'");
      bool is_param = std::any_of(params.begin(), params.end(), [&](auto& kv) { return kv.first == name; });
      if (is_param) {
        avg.mul_(decay_);
        avg.add_(state[i].second, 1.0 - decay_);
      } else {
        avg.copy_(state[i].second);
      }
    }
    ++updates_;
  }
  void copy_to(nn::Module<T>& model) const { model.load_state_dict(shadow_, true); }
  const nn::StateDict<T>& state_dict() const { return shadow_; }
  void load_state_dict(const nn::StateDict<T>& s) {
    NoGradGuard no_grad;
    LATENT_CHECK(s.size() == shadow_.size(), "EMA.load_state_dict: got ", s.size(), " tensors, expected ", shadow_.size());
    for (size_t i = 0; i < s.size(); ++i) shadow_[i].second.copy_(s[i].second);
  }
  double decay() const { return decay_; }
  int64_t num_updates() const { return updates_; }

 private:
  double decay_;
  int64_t updates_ = 0;
  nn::StateDict<T> shadow_;
};

}  // namespace latent::optim
