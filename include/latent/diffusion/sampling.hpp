// The reverse process as a loop over a scheduler's timesteps, for any noise-predicting
// model (a callable (x, t) -> model output, t a float tensor of shape (N)):
//
//   diffusion::DDIMScheduler<float> ddim;  ddim.set_timesteps(50);
//   auto images = diffusion::generate<float>(
//       [&](const TensorF& x, const TensorF& t) { return (*unet)(x, t); }, ddim, {16, 1, 32, 32},
//       {.generator = &gen, .clamp_to = std::pair{-1.0, 1.0},
//        .callback = [&](const diffusion::SamplingStep<float>& s) { progress.update(s.index + 1); }});
//
// Classifier-free guidance wraps a conditional model into such a callable:
//   auto guided = diffusion::classifier_free_guidance<float>(
//       [&](const TensorF& x, const TensorF& t, const IndexTensor& y) { return (*unet)(x, t, y); },
//       labels, unet->null_label(), /*scale=*/3.0);
#pragma once
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "ddim.hpp"
#include "ddpm.hpp"

namespace latent::diffusion {

template <typename T>
struct SamplingStep {
  int64_t index;     // 0-based position in the scheduler's timesteps
  int64_t count;     // how many steps the loop takes
  int64_t timestep;  // the t just denoised
  const Tensor<T>& sample;                // x after the step
  const Tensor<T>& pred_original_sample;  // the model's x0 estimate at this step
};

template <typename T>
struct SamplingOptions {
  double eta = 0.0;                 // DDIM's noise scale; a DDPMScheduler ignores it
  Generator* generator = nullptr;   // default_generator() when null
  std::optional<std::pair<double, double>> clamp_to = std::nullopt;  // final data range, e.g. {-1, 1}
  std::function<void(const SamplingStep<T>&)> callback = nullptr;    // after every step
};

// Runs every timestep of the scheduler from x (x_T) under no-grad and returns x_0.
template <typename T, typename Model, typename Scheduler>
Tensor<T> sample_loop(Model&& model, const Scheduler& scheduler, Tensor<T> x, const SamplingOptions<T>& options = {}) {
  const char* op = "diffusion::sample_loop";
  LATENT_CHECK(x.dim() >= 1 && x.size(0) > 0, op, ": expected a batch of noise (N, ...), got shape ", x.shape());
  NoGradGuard no_grad;
  Generator& gen = options.generator ? *options.generator : default_generator();
  const auto& steps = scheduler.timesteps();
  const auto count = static_cast<int64_t>(steps.size());
  for (int64_t i = 0; i < count; ++i) {
    const int64_t t = steps[static_cast<size_t>(i)];
    Tensor<T> out = model(x, full<T>({x.size(0)}, static_cast<T>(t), x.device()));
    LATENT_CHECK(out.shape() == x.shape(), op, ": the model returned shape ", out.shape(), " for input ", x.shape(),
                 " at timestep ", t);
    SchedulerOutput<T> result;
    if constexpr (std::is_same_v<std::decay_t<Scheduler>, DDIMScheduler<T>>)
      result = scheduler.step(out, t, x, options.eta, gen);
    else
      result = scheduler.step(out, t, x, gen);
    x = result.prev_sample;
    if (options.callback) options.callback(SamplingStep<T>{i, count, t, x, result.pred_original_sample});
  }
  if (options.clamp_to) x = x.clamp(options.clamp_to->first, options.clamp_to->second);
  return x;
}

// sample_loop from x_T ~ N(0, I) of the given shape.
template <typename T, typename Model, typename Scheduler>
Tensor<T> generate(Model&& model, const Scheduler& scheduler, const Shape& shape, const SamplingOptions<T>& options = {},
                   Device device = kCPU) {
  Generator& gen = options.generator ? *options.generator : default_generator();
  return sample_loop<T>(std::forward<Model>(model), scheduler, randn<T>(shape, gen, device), options);
}

// eps = eps(x, t, null) + scale (eps(x, t, y) - eps(x, t, null)) (Ho & Salimans 2022), both
// halves in one batch of 2N. scale = 1 is the plain conditional model, 0 the unconditional.
template <typename T, typename ConditionalModel>
auto classifier_free_guidance(ConditionalModel model, IndexTensor labels, int64_t null_label, double scale) {
  return [model = std::move(model), labels = std::move(labels), null_label, scale](const Tensor<T>& x,
                                                                                  const Tensor<T>& t) {
    const char* op = "diffusion::classifier_free_guidance";
    LATENT_CHECK(labels.dim() == 1 && labels.size(0) == x.size(0), op, ": ", labels.numel(),
                 " labels for a batch of ", x.size(0));
    if (scale == 1.0) return model(x, t, labels);
    auto y = labels.to_vector();
    y.resize(2 * y.size(), null_label);
    auto out = model(cat<T>({x, x}, 0), cat<T>({t, t}, 0), from_vector<int64_t>(y).to(labels.device()));
    const int64_t n = x.size(0);
    auto conditional = out.narrow(0, 0, n), unconditional = out.narrow(0, n, n);
    return unconditional + scale * (conditional - unconditional);
  };
}

// Training timesteps, uniform integers in [first, T). The course (RECIPES R9) starts at 1;
// diffusers' training scripts at 0.
inline IndexTensor random_timesteps(int64_t batch, int64_t num_train_timesteps, Generator& gen = default_generator(),
                                    int64_t first = 0) {
  LATENT_CHECK(first >= 0 && first < num_train_timesteps, "diffusion::random_timesteps: first must be in [0, ",
               num_train_timesteps, "), got ", first);
  return randint(first, num_train_timesteps, {batch}, gen);
}

}  // namespace latent::diffusion
