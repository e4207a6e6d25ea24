// What DDPMScheduler and DDIMScheduler share: the noise schedule, the forward process
// (add_noise, get_velocity, training targets), the inference timestep list and the
// previous-timestep rule. Config names and defaults are diffusers'.
#pragma once
#include <algorithm>
#include <cmath>
#include <string_view>
#include <vector>

#include "schedule.hpp"

namespace latent::diffusion {

// What the model predicts: the noise (epsilon), the clean sample x0 ("sample") or
// v = sqrt(abar) eps - sqrt(1 - abar) x0 (Salimans & Ho).
enum class PredictionType { Epsilon, Sample, VPrediction };
// How the inference timesteps are spread over [0, T) (Lin et al. 2023, table 2).
enum class TimestepSpacing { Leading, Linspace, Trailing };

namespace detail {
inline constexpr EnumName<PredictionType> kPredictionTypeNames[] = {{PredictionType::Epsilon, "epsilon"},
                                                                    {PredictionType::Sample, "sample"},
                                                                    {PredictionType::VPrediction, "v_prediction"}};
inline constexpr EnumName<TimestepSpacing> kTimestepSpacingNames[] = {{TimestepSpacing::Leading, "leading"},
                                                                      {TimestepSpacing::Linspace, "linspace"},
                                                                      {TimestepSpacing::Trailing, "trailing"}};
}  // namespace detail

inline PredictionType parse_prediction_type(std::string_view name) {
  return detail::parse_enum("diffusion::parse_prediction_type", detail::kPredictionTypeNames, name);
}
inline const char* to_string(PredictionType p) { return detail::enum_name(detail::kPredictionTypeNames, p); }
inline TimestepSpacing parse_timestep_spacing(std::string_view name) {
  return detail::parse_enum("diffusion::parse_timestep_spacing", detail::kTimestepSpacingNames, name);
}
inline const char* to_string(TimestepSpacing s) { return detail::enum_name(detail::kTimestepSpacingNames, s); }

// diffusers' set_timesteps(num_inference_steps): descending timesteps in [0, T).
inline std::vector<int64_t> spaced_timesteps(int64_t num_train_timesteps, int64_t num_inference_steps,
                                             TimestepSpacing spacing, int64_t steps_offset = 0) {
  LATENT_CHECK(num_inference_steps >= 1 && num_inference_steps <= num_train_timesteps,
               "diffusion::set_timesteps: num_inference_steps must be in [1, ", num_train_timesteps, "], got ",
               num_inference_steps);
  const int64_t T = num_train_timesteps, n = num_inference_steps;
  std::vector<int64_t> out(static_cast<size_t>(n));
  switch (spacing) {
    case TimestepSpacing::Linspace:
      for (int64_t i = 0; i < n; ++i) {
        const double v = n == 1 ? 0.0 : static_cast<double>(T - 1) * static_cast<double>(i) / static_cast<double>(n - 1);
        out[n - 1 - i] = static_cast<int64_t>(std::nearbyint(v));  // numpy rounds half to even
      }
      break;
    case TimestepSpacing::Leading: {
      const int64_t ratio = T / n;
      for (int64_t i = 0; i < n; ++i) out[n - 1 - i] = i * ratio + steps_offset;
      break;
    }
    case TimestepSpacing::Trailing: {
      // np.round(np.arange(T, 0, -T / n)) - 1: the arange accumulates start + i * step.
      const double ratio = static_cast<double>(T) / static_cast<double>(n);
      for (int64_t i = 0; i < n; ++i)
        out[i] = static_cast<int64_t>(std::nearbyint(static_cast<double>(T) - static_cast<double>(i) * ratio)) - 1;
      break;
    }
  }
  for (int64_t t : out)
    LATENT_CHECK(t >= 0 && t < T, "diffusion::set_timesteps: spacing '", to_string(spacing), "' with steps_offset ",
                 steps_offset, " gives timestep ", t, " outside [0, ", T, ")");
  return out;
}

template <typename T>
struct SchedulerOutput {
  Tensor<T> prev_sample;           // x_{t_prev}
  Tensor<T> pred_original_sample;  // the model's estimate of x0 at this step (after clipping)
};

template <typename T>
class SchedulerBase {
 public:
  const NoiseSchedule& schedule() const { return schedule_; }
  int64_t num_train_timesteps() const { return schedule_.size(); }
  PredictionType prediction_type() const { return prediction_type_; }
  TimestepSpacing timestep_spacing() const { return spacing_; }

  // Descending timesteps the reverse process visits: T-1..0 until set_timesteps.
  const std::vector<int64_t>& timesteps() const { return timesteps_; }
  // 0 until set_timesteps (diffusers' None): every training timestep is visited.
  int64_t num_inference_steps() const { return num_inference_steps_; }

  void set_timesteps(int64_t num_inference_steps) {
    timesteps_ = spaced_timesteps(num_train_timesteps(), num_inference_steps, spacing_, steps_offset_);
    num_inference_steps_ = num_inference_steps;
  }
  // Any strictly descending list in [0, T) (diffusers' custom timesteps).
  void set_timesteps(const std::vector<int64_t>& timesteps) {
    LATENT_CHECK(!timesteps.empty(), name_, ".set_timesteps: expected at least one timestep");
    for (size_t i = 0; i < timesteps.size(); ++i) {
      LATENT_CHECK(timesteps[i] >= 0 && timesteps[i] < num_train_timesteps(), name_, ".set_timesteps: timestep ",
                   timesteps[i], " at position ", i, " is outside [0, ", num_train_timesteps(), ")");
      LATENT_CHECK(i == 0 || timesteps[i] < timesteps[i - 1], name_,
                   ".set_timesteps: custom timesteps must be strictly descending, got ", timesteps[i - 1], " then ",
                   timesteps[i]);
    }
    timesteps_ = timesteps;
    num_inference_steps_ = static_cast<int64_t>(timesteps.size());
  }

  // The timestep after t in the list (-1 after the last): for spaced lists the gap is not
  // always T / n, so it is looked up rather than computed.
  int64_t previous_timestep(int64_t t) const {
    check_timestep(name_, t);
    if (num_inference_steps_ == 0) return t - 1;
    const auto it = std::find(timesteps_.begin(), timesteps_.end(), t);
    LATENT_CHECK(it != timesteps_.end(), name_, ": timestep ", t, " is not in the scheduler's ",
                 timesteps_.size(), " timesteps (", timesteps_.front(), " .. ", timesteps_.back(),
                 "); step with the values of timesteps()");
    return std::next(it) == timesteps_.end() ? -1 : *std::next(it);
  }

  // x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise, one t per batch element.
  Tensor<T> add_noise(const Tensor<T>& original, const Tensor<T>& noise, const IndexTensor& t) const {
    const char* op = "diffusion::add_noise";
    check_batch(op, original, noise, t);
    return original * per_sample(op, schedule_.sqrt_alphas_cumprod, t, original) +
           noise * per_sample(op, schedule_.sqrt_one_minus_alphas_cumprod, t, original);
  }
  Tensor<T> add_noise(const Tensor<T>& original, const Tensor<T>& noise, const std::vector<int64_t>& t) const {
    return add_noise(original, noise, from_vector<int64_t>(t));
  }

  // v = sqrt(abar_t) noise - sqrt(1 - abar_t) x0.
  Tensor<T> get_velocity(const Tensor<T>& original, const Tensor<T>& noise, const IndexTensor& t) const {
    const char* op = "diffusion::get_velocity";
    check_batch(op, original, noise, t);
    return noise * per_sample(op, schedule_.sqrt_alphas_cumprod, t, original) -
           original * per_sample(op, schedule_.sqrt_one_minus_alphas_cumprod, t, original);
  }

  // What a model of this prediction type is trained to output for x_t = add_noise(x0, noise, t).
  Tensor<T> training_target(const Tensor<T>& original, const Tensor<T>& noise, const IndexTensor& t) const {
    check_batch("diffusion::training_target", original, noise, t);
    switch (prediction_type_) {
      case PredictionType::Epsilon: return noise;
      case PredictionType::Sample: return original;
      case PredictionType::VPrediction: return get_velocity(original, noise, t);
    }
    return noise;
  }

 protected:
  SchedulerBase(const char* name, std::vector<double> betas, PredictionType prediction_type,
                TimestepSpacing spacing, int64_t steps_offset)
      : name_(name),
        schedule_(std::move(betas)),
        prediction_type_(prediction_type),
        spacing_(spacing),
        steps_offset_(steps_offset) {
    LATENT_CHECK(steps_offset >= 0, name, ": steps_offset must be >= 0, got ", steps_offset);
    timesteps_.resize(static_cast<size_t>(schedule_.size()));
    for (int64_t i = 0; i < schedule_.size(); ++i) timesteps_[i] = schedule_.size() - 1 - i;
  }

  static std::vector<double> betas_from(const char* name, const std::vector<double>& trained_betas,
                                        BetaSchedule schedule, int64_t num_train_timesteps, double beta_start,
                                        double beta_end) {
    if (trained_betas.empty()) return make_betas(schedule, num_train_timesteps, beta_start, beta_end);
    LATENT_CHECK(static_cast<int64_t>(trained_betas.size()) == num_train_timesteps, name, ": ",
                 trained_betas.size(), " trained_betas given but num_train_timesteps is ", num_train_timesteps);
    return trained_betas;
  }

  void check_timestep(const char* op, int64_t t) const {
    LATENT_CHECK(t >= 0 && t < num_train_timesteps(), op, ": timestep ", t, " is outside [0, ",
                 num_train_timesteps(), ")");
  }

  void check_step_inputs(const char* op, const Tensor<T>& model_output, const Tensor<T>& sample) const {
    LATENT_CHECK(model_output.shape() == sample.shape(), op, ": model_output has shape ", model_output.shape(),
                 " but sample has shape ", sample.shape(), "; a noise-predicting model returns its input's shape");
    LATENT_CHECK(model_output.device() == sample.device(), op, ": model_output is on ", model_output.device(),
                 " but sample is on ", sample.device());
  }

  // (x0, eps) the model output implies at x_t (diffusers' formulas per prediction type).
  std::pair<Tensor<T>, Tensor<T>> original_and_epsilon(const Tensor<T>& model_output, const Tensor<T>& sample,
                                                       double alpha_prod_t) const {
    const double sa = std::sqrt(alpha_prod_t), sb = std::sqrt(1 - alpha_prod_t);
    switch (prediction_type_) {
      case PredictionType::Epsilon: return {(sample - sb * model_output) * (1 / sa), model_output};
      case PredictionType::Sample: return {model_output, (sample - sa * model_output) * (1 / sb)};
      case PredictionType::VPrediction: return {sa * sample - sb * model_output, sa * model_output + sb * sample};
    }
    return {model_output, model_output};
  }

  const char* name_;
  NoiseSchedule schedule_;
  PredictionType prediction_type_;
  TimestepSpacing spacing_;
  int64_t steps_offset_;
  std::vector<int64_t> timesteps_;
  int64_t num_inference_steps_ = 0;

 private:
  void check_batch(const char* op, const Tensor<T>& original, const Tensor<T>& noise, const IndexTensor& t) const {
    LATENT_CHECK(original.dim() >= 1, op, ": expected a batch (N, ...), got a 0-d tensor");
    LATENT_CHECK(original.shape() == noise.shape(), op, ": sample has shape ", original.shape(),
                 " but noise has shape ", noise.shape());
    LATENT_CHECK(original.device() == noise.device(), op, ": sample is on ", original.device(),
                 " but noise is on ", noise.device());
    LATENT_CHECK(t.dim() == 1 && t.size(0) == original.size(0), op, ": expected one timestep per sample (",
                 original.size(0), "), got timesteps of shape ", t.shape());
  }

  // coeffs[t_i] per sample, shaped (N, 1, ..., 1) to broadcast over the sample's dims.
  Tensor<T> per_sample(const char* op, const std::vector<double>& coeffs, const IndexTensor& t,
                       const Tensor<T>& like) const {
    const auto steps = t.to_vector();
    std::vector<T> values(steps.size());
    for (size_t i = 0; i < steps.size(); ++i) {
      check_timestep(op, steps[i]);
      values[i] = static_cast<T>(coeffs[static_cast<size_t>(steps[i])]);
    }
    std::vector<int64_t> dims(static_cast<size_t>(like.dim()), 1);
    dims[0] = static_cast<int64_t>(steps.size());
    return from_vector<T>(values, Shape(dims), like.device());
  }
};

}  // namespace latent::diffusion
