// Exponential moving average of a module's weights, as diffusion and GAN trainers use it
// (timm's ModelEmaV2; diffusers' EMAModel with warmup = true): after each optimizer step,
//   shadow = d * shadow + (1 - d) * param;  buffers are copied.
// d = decay, or with warm-up diffusers' min(decay, (1 + n) / (10 + n)) after n earlier
// updates (0 at the first): without it a 0.999 average still holds 37% of the initial
// weights after 1000 steps, which makes early samples of a diffusion model pure noise.
// copy_to(model) loads the averaged weights into a model of the same architecture.
#pragma once
#include <algorithm>
#include <optional>

#include "optimizer.hpp"

namespace latent::optim {

template <typename T = float>
class EMA {
 public:
  EMA(const nn::Module<T>& model, double decay = 0.999, bool warmup = false) : decay_(decay), warmup_(warmup) {
    LATENT_CHECK(decay >= 0 && decay <= 1, "EMA: decay must be in [0, 1], got ", decay);
    NoGradGuard no_grad;
    for (auto& [name, t] : model.state_dict()) shadow_.emplace_back(name, t.detach().clone());
  }
  void update(const nn::Module<T>& model) {
    NoGradGuard no_grad;
    auto params = model.named_parameters();
    auto state = model.state_dict();
    const double d = current_decay();
    LATENT_CHECK(state.size() == shadow_.size(), "EMA.update: the model has ", state.size(), " tensors, the average ",
                 shadow_.size());
    for (size_t i = 0; i < state.size(); ++i) {
      auto& [name, avg] = shadow_[i];
      LATENT_CHECK(state[i].first == name, "EMA.update: tensor ", i, " is '", state[i].first, "', expected '", name, "'");
      bool is_param = nn::detail::find_named(params, name) != params.end();
      if (is_param) {
        avg.mul_(d);
        avg.add_(state[i].second, 1.0 - d);
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
  bool warmup() const { return warmup_; }
  // The decay the next update() uses.
  double current_decay() const {
    if (!warmup_) return decay_;
    if (updates_ == 0) return 0.0;
    const double n = static_cast<double>(updates_);
    return std::min(decay_, (1 + n) / (10 + n));
  }
  int64_t num_updates() const { return updates_; }

 private:
  double decay_;
  bool warmup_ = false;
  int64_t updates_ = 0;
  nn::StateDict<T> shadow_;
};

}  // namespace latent::optim
