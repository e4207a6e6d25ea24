// Beta schedules of the forward (noising) process and what every scheduler derives from
// them, computed once in double (RECIPES R9; diffusers' DDPMScheduler/DDIMScheduler
// config names):
//
//   auto betas = diffusion::linear_betas(1000, 1e-4, 0.02);
//   diffusion::NoiseSchedule schedule(betas);   // alphas, alphas_cumprod, posterior terms
#pragma once
#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <string_view>
#include <vector>

#include "../latent.hpp"

namespace latent::diffusion {

// Linear: diffusers "linear"; ScaledLinear: "scaled_linear" (linear in sqrt(beta));
// Cosine: Nichol & Dhariwal as RECIPES R9 gives it (clipped to [1e-4, 0.9999]);
// SquaredCosCapV2: diffusers' "squaredcos_cap_v2" (the same curve, capped at 0.999 only).
enum class BetaSchedule { Linear, ScaledLinear, Cosine, SquaredCosCapV2 };

namespace detail {
// One name table per enum: parse_* and to_string read the same spelling (diffusers').
template <typename Enum>
struct EnumName {
  Enum value;
  const char* name;
};

template <typename Enum, size_t N>
Enum parse_enum(const char* op, const EnumName<Enum> (&table)[N], std::string_view name) {
  std::string known;
  for (const auto& entry : table) {
    if (entry.name == name) return entry.value;
    known += (known.empty() ? "" : ", ") + std::string(entry.name);
  }
  throw Error(std::string(op) + ": unknown value '" + std::string(name) + "'; expected one of: " + known);
}

template <typename Enum, size_t N>
const char* enum_name(const EnumName<Enum> (&table)[N], Enum value) {
  for (const auto& entry : table)
    if (entry.value == value) return entry.name;
  return "?";
}

inline constexpr EnumName<BetaSchedule> kBetaScheduleNames[] = {{BetaSchedule::Linear, "linear"},
                                                                {BetaSchedule::ScaledLinear, "scaled_linear"},
                                                                {BetaSchedule::Cosine, "cosine"},
                                                                {BetaSchedule::SquaredCosCapV2, "squaredcos_cap_v2"}};
}  // namespace detail

inline BetaSchedule parse_beta_schedule(std::string_view name) {
  return detail::parse_enum("diffusion::parse_beta_schedule", detail::kBetaScheduleNames, name);
}
inline const char* to_string(BetaSchedule s) { return detail::enum_name(detail::kBetaScheduleNames, s); }

namespace detail {
inline void check_timesteps(const char* op, int64_t num_timesteps) {
  LATENT_CHECK(num_timesteps >= 1, op, ": num_train_timesteps must be >= 1, got ", num_timesteps);
}
}  // namespace detail

// beta_i = start + (end - start) i / (T - 1), as torch.linspace.
inline std::vector<double> linear_betas(int64_t num_timesteps, double beta_start = 1e-4, double beta_end = 0.02) {
  detail::check_timesteps("linear_betas", num_timesteps);
  std::vector<double> betas(static_cast<size_t>(num_timesteps), beta_start);
  for (int64_t i = 1; i < num_timesteps; ++i)
    betas[i] = beta_start + (beta_end - beta_start) * static_cast<double>(i) / static_cast<double>(num_timesteps - 1);
  return betas;
}

inline std::vector<double> scaled_linear_betas(int64_t num_timesteps, double beta_start = 0.00085,
                                               double beta_end = 0.012) {
  detail::check_timesteps("scaled_linear_betas", num_timesteps);
  auto betas = linear_betas(num_timesteps, std::sqrt(beta_start), std::sqrt(beta_end));
  for (double& b : betas) b *= b;
  return betas;
}

// beta_t = 1 - abar(t) / abar(t - 1) with abar(t) = cos(((t / T) + s) / (1 + s) * pi / 2)^2,
// clipped to [min_beta, max_beta]. abar's normalisation by abar(0) cancels in the ratio.
inline std::vector<double> cosine_betas(int64_t num_timesteps, double s = 0.008, double min_beta = 1e-4,
                                        double max_beta = 0.9999) {
  detail::check_timesteps("cosine_betas", num_timesteps);
  LATENT_CHECK(s >= 0 && min_beta >= 0 && min_beta <= max_beta && max_beta < 1,
               "cosine_betas: expected s >= 0 and 0 <= min_beta <= max_beta < 1, got s=", s, " min_beta=", min_beta,
               " max_beta=", max_beta);
  const double T = static_cast<double>(num_timesteps);
  auto abar = [&](double t) {
    const double c = std::cos((t / T + s) / (1 + s) * std::numbers::pi / 2);
    return c * c;
  };
  std::vector<double> betas(static_cast<size_t>(num_timesteps));
  for (int64_t i = 0; i < num_timesteps; ++i) {
    const double t = static_cast<double>(i);
    betas[i] = std::clamp(1 - abar(t + 1) / abar(t), min_beta, max_beta);
  }
  return betas;
}

inline std::vector<double> make_betas(BetaSchedule schedule, int64_t num_timesteps, double beta_start,
                                      double beta_end) {
  switch (schedule) {
    case BetaSchedule::Linear: return linear_betas(num_timesteps, beta_start, beta_end);
    case BetaSchedule::ScaledLinear: return scaled_linear_betas(num_timesteps, beta_start, beta_end);
    case BetaSchedule::Cosine: return cosine_betas(num_timesteps);
    case BetaSchedule::SquaredCosCapV2: return cosine_betas(num_timesteps, 0.008, 0.0, 0.999);
  }
  throw Error("diffusion::make_betas: invalid BetaSchedule value " + std::to_string(static_cast<int>(schedule)));
}

// Everything the forward process and the posterior q(x_{t-1} | x_t, x_0) need, per t.
// Index t runs over 0..T-1 (the seed's and diffusers' convention: t = 0 is the first
// noising step, whose previous cumulative product is 1).
struct NoiseSchedule {
  std::vector<double> betas, alphas, alphas_cumprod, alphas_cumprod_prev;
  std::vector<double> sqrt_alphas_cumprod, sqrt_one_minus_alphas_cumprod;
  std::vector<double> posterior_variance;  // beta-tilde_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t

  NoiseSchedule() = default;
  explicit NoiseSchedule(std::vector<double> betas_in) : betas(std::move(betas_in)) {
    LATENT_CHECK(!betas.empty(), "NoiseSchedule: expected at least one beta");
    for (size_t i = 0; i < betas.size(); ++i)
      LATENT_CHECK(betas[i] > 0 && betas[i] < 1, "NoiseSchedule: beta[", i, "] = ", betas[i],
                   " is outside (0, 1)");
    const size_t n = betas.size();
    alphas.resize(n);
    alphas_cumprod.resize(n);
    alphas_cumprod_prev.resize(n);
    sqrt_alphas_cumprod.resize(n);
    sqrt_one_minus_alphas_cumprod.resize(n);
    posterior_variance.resize(n);
    double prod = 1;
    for (size_t i = 0; i < n; ++i) {
      alphas[i] = 1 - betas[i];
      alphas_cumprod_prev[i] = prod;
      prod *= alphas[i];
      alphas_cumprod[i] = prod;
      sqrt_alphas_cumprod[i] = std::sqrt(prod);
      sqrt_one_minus_alphas_cumprod[i] = std::sqrt(1 - prod);
      posterior_variance[i] = (1 - alphas_cumprod_prev[i]) / (1 - prod) * betas[i];
    }
  }

  int64_t size() const { return static_cast<int64_t>(betas.size()); }
};

}  // namespace latent::diffusion
