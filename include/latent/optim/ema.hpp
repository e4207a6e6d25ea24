// Exponential moving average of a module's weights, as diffusion and GAN trainers use it
// (timm's ModelEmaV2 / diffusers' EMAModel without warm-up): after each optimizer step,
//   shadow = decay * shadow + (1 - decay) * param;  buffers are copied.
// copy_to(model) loads the averaged weights into a model of the same architecture.
#pragma once
#include <optional>

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
      bool is_param = nn::detail::find_named(params, name) != params.end();
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
  // Restores the averages (matched by name, every one required) and, when given, the
  // update count.
  void load_state_dict(const nn::StateDict<T>& s, std::optional<int64_t> updates = std::nullopt) {
    NoGradGuard no_grad;
    LATENT_CHECK(s.size() == shadow_.size(), "EMA.load_state_dict: got ", s.size(), " tensors, expected ", shadow_.size());
    for (auto& [name, avg] : shadow_) {
      auto it = nn::detail::find_named(s, name);
      LATENT_CHECK(it != s.end(), "EMA.load_state_dict: missing tensor '", name, "'");
      LATENT_CHECK(it->second.shape() == avg.shape(), "EMA.load_state_dict: tensor '", name, "' has shape ",
                   it->second.shape(), ", expected ", avg.shape());
    }
    for (auto& [name, avg] : shadow_)
      avg.copy_(nn::detail::find_named(s, name)->second);
    if (updates) updates_ = *updates;
  }
  double decay() const { return decay_; }
  int64_t num_updates() const { return updates_; }

 private:
  double decay_;
  int64_t updates_ = 0;
  nn::StateDict<T> shadow_;
};

}  // namespace latent::optim
