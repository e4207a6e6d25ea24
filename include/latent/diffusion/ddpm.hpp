// DDPMScheduler: ancestral sampling of Ho et al. 2020, with diffusers' config and step.
//
//   diffusion::DDPMScheduler<float> scheduler;               // diffusers' defaults
//   auto x_t = scheduler.add_noise(x0, noise, t);            // training input
//   auto loss = nn::functional::mse_loss(model(x_t, t), scheduler.training_target(x0, noise, t));
//   for (int64_t t : scheduler.timesteps())                  // sampling
//     x = scheduler.step(model(x, t), t, x, gen).prev_sample;
//
// The course's sampler (RECIPES R9) is DDPMScheduler(DDPMSchedulerOptions::recipe_r9()):
// linear betas 1e-4..0.02, variance beta_t ("fixed_large"), no clipping of x0.
#pragma once
#include "scheduler.hpp"

namespace latent::diffusion {

// fixed_small: the posterior variance beta-tilde_t (diffusers' default);
// fixed_large: beta_t (the seed's sampler, Ho et al.'s other choice).
enum class VarianceType { FixedSmall, FixedLarge };

namespace detail {
inline constexpr EnumName<VarianceType> kVarianceTypeNames[] = {{VarianceType::FixedSmall, "fixed_small"},
                                                                {VarianceType::FixedLarge, "fixed_large"}};
}  // namespace detail

inline VarianceType parse_variance_type(std::string_view name) {
  return detail::parse_enum("diffusion::parse_variance_type", detail::kVarianceTypeNames, name);
}
inline const char* to_string(VarianceType v) { return detail::enum_name(detail::kVarianceTypeNames, v); }

struct DDPMSchedulerOptions {
  int64_t num_train_timesteps = 1000;
  double beta_start = 1e-4;
  double beta_end = 0.02;
  BetaSchedule beta_schedule = BetaSchedule::Linear;
  std::vector<double> trained_betas = {};  // when given, replaces the schedule
  VarianceType variance_type = VarianceType::FixedSmall;
  bool clip_sample = true;  // clamp the predicted x0 to [-range, range]
  double clip_sample_range = 1.0;
  PredictionType prediction_type = PredictionType::Epsilon;
  TimestepSpacing timestep_spacing = TimestepSpacing::Leading;
  int64_t steps_offset = 0;

  // The course's DDPM (RECIPES R9): its update x = (x - (1 - a_t) / sqrt(1 - abar_t) eps)
  // / sqrt(a_t) + sqrt(beta_t) z is this scheduler's mean with variance beta_t.
  static DDPMSchedulerOptions recipe_r9(BetaSchedule schedule = BetaSchedule::Linear) {
    DDPMSchedulerOptions o;
    o.beta_schedule = schedule;
    o.variance_type = VarianceType::FixedLarge;
    o.clip_sample = false;
    return o;
  }
};

template <typename T = float>
class DDPMScheduler : public SchedulerBase<T> {
  using Base = SchedulerBase<T>;

 public:
  explicit DDPMScheduler(DDPMSchedulerOptions options = {})
      : Base("DDPMScheduler",
             Base::betas_from("DDPMScheduler", options.trained_betas, options.beta_schedule,
                              options.num_train_timesteps, options.beta_start, options.beta_end),
             options.prediction_type, options.timestep_spacing, options.steps_offset),
        options_(std::move(options)) {
    LATENT_CHECK(!options_.clip_sample || options_.clip_sample_range > 0,
                 "DDPMScheduler: clip_sample_range must be > 0, got ", options_.clip_sample_range);
  }

  const DDPMSchedulerOptions& options() const { return options_; }

  // The variance of p(x_{prev} | x_t) at t, for the step from t to previous_timestep(t).
  double variance(int64_t t) const {
    const auto [alpha_prod_t, alpha_prod_prev] = cumulative_products(t);
    const double current_beta = 1 - alpha_prod_t / alpha_prod_prev;
    if (options_.variance_type == VarianceType::FixedLarge) return current_beta;
    return std::max((1 - alpha_prod_prev) / (1 - alpha_prod_t) * current_beta, 1e-20);
  }

  // One reverse step from x_t; noise for t > 0 is drawn from gen (none at t = 0).
  SchedulerOutput<T> step(const Tensor<T>& model_output, int64_t t, const Tensor<T>& sample,
                          Generator& gen = default_generator()) const {
    this->check_step_inputs("DDPMScheduler.step", model_output, sample);
    Tensor<T> noise;
    if (t > 0) noise = randn<T>(sample.shape(), gen, sample.device());
    return step_with_noise(model_output, t, sample, noise);
  }

  // The same step with the Gaussian noise given (ignored at t = 0): for reproducing a
  // reference, or for sharing noise between samplers.
  SchedulerOutput<T> step(const Tensor<T>& model_output, int64_t t, const Tensor<T>& sample,
                          const Tensor<T>& variance_noise) const {
    const char* op = "DDPMScheduler.step";
    this->check_step_inputs(op, model_output, sample);
    if (t > 0)
      LATENT_CHECK(variance_noise.defined() && variance_noise.shape() == sample.shape(), op,
                   ": variance_noise must have the sample's shape ", sample.shape(), ", got ",
                   variance_noise.defined() ? variance_noise.shape() : Shape{});
    return step_with_noise(model_output, t, sample, variance_noise);
  }

 private:
  std::pair<double, double> cumulative_products(int64_t t) const {
    const int64_t prev = this->previous_timestep(t);
    const auto& abar = this->schedule_.alphas_cumprod;
    return {abar[static_cast<size_t>(t)], prev >= 0 ? abar[static_cast<size_t>(prev)] : 1.0};
  }

  SchedulerOutput<T> step_with_noise(const Tensor<T>& model_output, int64_t t, const Tensor<T>& sample,
                                     const Tensor<T>& noise) const {
    const auto [alpha_prod_t, alpha_prod_prev] = cumulative_products(t);
    const double beta_prod_t = 1 - alpha_prod_t, beta_prod_prev = 1 - alpha_prod_prev;
    const double current_alpha = alpha_prod_t / alpha_prod_prev, current_beta = 1 - current_alpha;

    auto x0 = this->original_and_epsilon(model_output, sample, alpha_prod_t).first;
    if (options_.clip_sample) x0 = x0.clamp(-options_.clip_sample_range, options_.clip_sample_range);

    // Posterior mean (Ho et al. eq. 7) as a blend of x0 and x_t.
    const double x0_coeff = std::sqrt(alpha_prod_prev) * current_beta / beta_prod_t;
    const double xt_coeff = std::sqrt(current_alpha) * beta_prod_prev / beta_prod_t;
    auto prev = x0_coeff * x0 + xt_coeff * sample;
    if (t > 0) prev = prev + std::sqrt(variance(t)) * noise;
    return {prev, x0};
  }

  DDPMSchedulerOptions options_;
};

}  // namespace latent::diffusion
