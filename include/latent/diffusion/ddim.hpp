// DDIMScheduler (Song et al. 2021): sampling a DDPM-trained model in far fewer steps,
// deterministic at eta = 0, ancestral-like at eta = 1.
//
//   diffusion::DDIMScheduler<float> scheduler;
//   scheduler.set_timesteps(50);
//   for (int64_t t : scheduler.timesteps())
//     x = scheduler.step(model(x, t), t, x, /*eta=*/0.0).prev_sample;
//
// Unlike diffusers, which takes the previous timestep as t - T / n (right only for
// "leading" spacing), the previous timestep is the next entry of timesteps().
#pragma once
#include "scheduler.hpp"

namespace latent::diffusion {

struct DDIMSchedulerOptions {
  int64_t num_train_timesteps = 1000;
  double beta_start = 1e-4;
  double beta_end = 0.02;
  BetaSchedule beta_schedule = BetaSchedule::Linear;
  std::vector<double> trained_betas = {};
  bool clip_sample = true;
  double clip_sample_range = 1.0;
  // abar used after the last step: 1 (the clean sample) or abar_0.
  bool set_alpha_to_one = true;
  PredictionType prediction_type = PredictionType::Epsilon;
  TimestepSpacing timestep_spacing = TimestepSpacing::Leading;
  int64_t steps_offset = 0;
};

template <typename T = float>
class DDIMScheduler : public SchedulerBase<T> {
  using Base = SchedulerBase<T>;

 public:
  explicit DDIMScheduler(DDIMSchedulerOptions options = {})
      : Base("DDIMScheduler",
             Base::betas_from("DDIMScheduler", options.trained_betas, options.beta_schedule,
                              options.num_train_timesteps, options.beta_start, options.beta_end),
             options.prediction_type, options.timestep_spacing, options.steps_offset),
        options_(std::move(options)) {
    LATENT_CHECK(!options_.clip_sample || options_.clip_sample_range > 0,
                 "DDIMScheduler: clip_sample_range must be > 0, got ", options_.clip_sample_range);
    final_alpha_cumprod_ = options_.set_alpha_to_one ? 1.0 : this->schedule_.alphas_cumprod.front();
  }

  const DDIMSchedulerOptions& options() const { return options_; }

  // sigma_t^2 / eta^2 of Song et al. eq. 16 for the step from t to previous_timestep(t).
  double variance(int64_t t) const {
    const auto [alpha_prod_t, alpha_prod_prev] = cumulative_products("DDIMScheduler.variance", t);
    return (1 - alpha_prod_prev) / (1 - alpha_prod_t) * (1 - alpha_prod_t / alpha_prod_prev);
  }

  // With eta > 0, noise is drawn from gen. use_clipped_model_output recomputes eps from the
  // clipped x0, as diffusers' flag of that name.
  SchedulerOutput<T> step(const Tensor<T>& model_output, int64_t t, const Tensor<T>& sample, double eta = 0.0,
                          Generator& gen = default_generator(), bool use_clipped_model_output = false) const {
    this->check_step_inputs("DDIMScheduler.step", model_output, sample);
    Tensor<T> noise;
    if (eta > 0) noise = randn<T>(sample.shape(), gen, sample.device());
    return step_with_noise(model_output, t, sample, eta, noise, use_clipped_model_output);
  }

  // The same step with the noise given (used only when eta > 0).
  SchedulerOutput<T> step(const Tensor<T>& model_output, int64_t t, const Tensor<T>& sample, double eta,
                          const Tensor<T>& variance_noise, bool use_clipped_model_output = false) const {
    const char* op = "DDIMScheduler.step";
    this->check_step_inputs(op, model_output, sample);
    if (eta > 0)
      LATENT_CHECK(variance_noise.defined() && variance_noise.shape() == sample.shape(), op,
                   ": variance_noise must have the sample's shape ", sample.shape(), ", got ",
                   variance_noise.defined() ? variance_noise.shape() : Shape{});
    return step_with_noise(model_output, t, sample, eta, variance_noise, use_clipped_model_output);
  }

 private:
  std::pair<double, double> cumulative_products(const char* op, int64_t t) const {
    LATENT_CHECK(this->num_inference_steps_ > 0, op,
                 ": call set_timesteps(n) first; DDIM samples a subsequence of the training timesteps");
    const int64_t prev = this->previous_timestep(t);
    const auto& abar = this->schedule_.alphas_cumprod;
    return {abar[static_cast<size_t>(t)], prev >= 0 ? abar[static_cast<size_t>(prev)] : final_alpha_cumprod_};
  }

  SchedulerOutput<T> step_with_noise(const Tensor<T>& model_output, int64_t t, const Tensor<T>& sample, double eta,
                                     const Tensor<T>& noise, bool use_clipped_model_output) const {
    const char* op = "DDIMScheduler.step";
    LATENT_CHECK(eta >= 0, op, ": eta must be >= 0, got ", eta);
    const auto [alpha_prod_t, alpha_prod_prev] = cumulative_products(op, t);
    auto [x0, eps] = this->original_and_epsilon(model_output, sample, alpha_prod_t);
    if (options_.clip_sample) x0 = x0.clamp(-options_.clip_sample_range, options_.clip_sample_range);
    if (use_clipped_model_output)
      eps = (sample - std::sqrt(alpha_prod_t) * x0) * (1 / std::sqrt(1 - alpha_prod_t));

    const double std_dev = eta * std::sqrt(variance(t));
    // Rounding can leave 1 - abar_prev - sigma^2 a hair below zero at eta = 1.
    const double direction = std::sqrt(std::max(1 - alpha_prod_prev - std_dev * std_dev, 0.0));
    auto prev = std::sqrt(alpha_prod_prev) * x0 + direction * eps;
    if (eta > 0) prev = prev + std_dev * noise;
    return {prev, x0};
  }

  DDIMSchedulerOptions options_;
  double final_alpha_cumprod_ = 1.0;
};

}  // namespace latent::diffusion
