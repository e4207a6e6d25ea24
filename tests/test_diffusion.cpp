// latent::diffusion schedules and schedulers: closed forms, diffusers' diffusion::DDPMScheduler and
// diffusion::DDIMScheduler and the course's own sampler (tests/fixtures/diffusion/schedulers.json,
// made by scripts/make_diffusion_fixtures.sh; schema at the top of its .py), hand-computed
// steps, add_noise statistics, the DDIM previous-timestep rule, determinism and an
// oracle round trip through the reverse process.
#include <latent/diffusion.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "helpers.hpp"

using namespace latent;
using json = nlohmann::json;

namespace {

const json& diffusion_fixture() {
  static const json j = [] {
    const auto path = std::filesystem::path(LATENT_FIXTURES_DIR) / "diffusion" / "schedulers.json";
    std::ifstream in(path);
    if (!in.good())
      throw std::runtime_error("missing " + path.string() + "; regenerate it with scripts/make_diffusion_fixtures.sh");
    json parsed = json::parse(in);
    if (parsed.at("format").get<int>() != 1) throw std::runtime_error("unexpected format of " + path.string());
    return parsed;
  }();
  return j;
}

TensorD diffusion_tensor(const json& values, const json& shape) {
  return from_vector<double>(values.get<std::vector<double>>(), Shape(shape.get<std::vector<int64_t>>()));
}

// The fixture's config dictionaries (diffusers' names) as latent's options.
template <typename Options>
Options diffusion_options(const json& config) {
  Options o;
  if (config.contains("beta_schedule")) o.beta_schedule = diffusion::parse_beta_schedule(config["beta_schedule"].get<std::string>());
  if (config.contains("beta_start")) o.beta_start = config["beta_start"].get<double>();
  if (config.contains("beta_end")) o.beta_end = config["beta_end"].get<double>();
  if (config.contains("prediction_type"))
    o.prediction_type = diffusion::parse_prediction_type(config["prediction_type"].get<std::string>());
  if (config.contains("clip_sample")) o.clip_sample = config["clip_sample"].get<bool>();
  if (config.contains("clip_sample_range")) o.clip_sample_range = config["clip_sample_range"].get<double>();
  if (config.contains("timestep_spacing"))
    o.timestep_spacing = diffusion::parse_timestep_spacing(config["timestep_spacing"].get<std::string>());
  if (config.contains("steps_offset")) o.steps_offset = config["steps_offset"].get<int64_t>();
  if constexpr (std::is_same_v<Options, diffusion::DDPMSchedulerOptions>) {
    if (config.contains("variance_type"))
      o.variance_type = diffusion::parse_variance_type(config["variance_type"].get<std::string>());
  } else {
    if (config.contains("set_alpha_to_one")) o.set_alpha_to_one = config["set_alpha_to_one"].get<bool>();
  }
  return o;
}

double diffusion_max_abs_diff(const TensorD& a, const TensorD& b) { return (a - b).abs().max().item(); }

// The noise an oracle model predicts for x_t of a known x0: exact for every t.
TensorD oracle_noise(const diffusion::SchedulerBase<double>& s, const TensorD& x0, const TensorD& x, int64_t t) {
  const double abar = s.schedule().alphas_cumprod[static_cast<size_t>(t)];
  return (x - std::sqrt(abar) * x0) * (1 / std::sqrt(1 - abar));
}

}  // namespace

TEST_CASE("beta schedules match their closed forms", "[diffusion]") {
  const auto linear = diffusion::linear_betas(1000, 1e-4, 0.02);
  REQUIRE(linear.size() == 1000);
  CHECK(linear.front() == 1e-4);
  CHECK(std::abs(linear.back() - 0.02) < 1e-15);
  CHECK(std::abs(linear[500] - (1e-4 + (0.02 - 1e-4) * 500.0 / 999.0)) < 1e-15);

  const auto scaled = diffusion::scaled_linear_betas(10, 0.00085, 0.012);
  CHECK(std::abs(scaled[0] - 0.00085) < 1e-15);
  CHECK(std::abs(std::sqrt(scaled[9]) - std::sqrt(0.012)) < 1e-15);
  CHECK(std::abs(std::sqrt(scaled[3]) - (std::sqrt(0.00085) + (std::sqrt(0.012) - std::sqrt(0.00085)) / 3)) < 1e-15);

  // Cosine: abar(t) = f(t) / f(0), beta_t = 1 - f(t + 1) / f(t), clipped to [1e-4, 0.9999].
  const auto f = [](double t) {
    const double c = std::cos((t / 1000 + 0.008) / 1.008 * M_PI / 2);
    return c * c;
  };
  const auto cosine = diffusion::cosine_betas(1000);
  // The first 13 steps (1 - f(t + 1) / f(t) < 1e-4) are clipped up, the last one down.
  for (int t : {0, 5, 12}) CHECK(cosine[t] == 1e-4);
  CHECK(cosine.back() == 0.9999);
  for (int t : {13, 400, 900}) CHECK(std::abs(cosine[t] - (1 - f(t + 1) / f(t))) < 1e-14);
  // From step 13 on the product telescopes: abar_t = abar_12 f(t + 1) / f(13).
  diffusion::NoiseSchedule cos_schedule(cosine);
  CHECK(std::abs(cos_schedule.alphas_cumprod[500] - std::pow(1 - 1e-4, 13) * f(501) / f(13)) < 1e-13);

  const auto capped = diffusion::make_betas(diffusion::BetaSchedule::SquaredCosCapV2, 1000, 0, 0);
  CHECK(capped.back() == 0.999);
  CHECK(std::abs(capped.front() - (1 - f(1) / f(0))) < 1e-15);

  diffusion::NoiseSchedule s(linear);
  double prod = 1;
  for (size_t t : {size_t{0}, size_t{1}, size_t{700}}) {
    prod = 1;
    for (size_t i = 0; i <= t; ++i) prod *= 1 - linear[i];
    CHECK(std::abs(s.alphas_cumprod[t] - prod) < 1e-14);
    CHECK(std::abs(s.sqrt_one_minus_alphas_cumprod[t] - std::sqrt(1 - prod)) < 1e-14);
    const double prev = t == 0 ? 1.0 : s.alphas_cumprod[t - 1];
    CHECK(std::abs(s.posterior_variance[t] - (1 - prev) / (1 - prod) * linear[t]) < 1e-15);
  }
  CHECK(s.posterior_variance[0] == 0);  // x0 is known exactly after the first step back

  REQUIRE_ERROR(diffusion::linear_betas(0), Catch::Contains("num_train_timesteps must be >= 1"));
  REQUIRE_ERROR(diffusion::NoiseSchedule({0.1, 1.0}), Catch::Contains("beta[1] = 1"));
  REQUIRE_ERROR(diffusion::parse_beta_schedule("quadratic"),
                Catch::Contains("expected one of: linear, scaled_linear, cosine"));
  CHECK(std::string(diffusion::to_string(diffusion::parse_beta_schedule("squaredcos_cap_v2"))) == "squaredcos_cap_v2");
}

TEST_CASE("beta schedules match diffusers and the course's cosine", "[diffusion][parity]") {
  for (const auto& c : diffusion_fixture().at("schedules")) {
    const auto name = c.at("name").get<std::string>();
    INFO("schedule " << name);
    const auto& cfg = c.at("config");
    const auto betas = diffusion::make_betas(diffusion::parse_beta_schedule(cfg.at("beta_schedule").get<std::string>()),
                                  c.at("T").get<int64_t>(), cfg.value("beta_start", 1e-4), cfg.value("beta_end", 0.02));
    diffusion::NoiseSchedule s(betas);
    const bool float32 = c.at("source").get<std::string>() == "diffusers-float32";
    // diffusers keeps the schedule in float32; its cumulative product drifts by ~1e-7 per step.
    const double beta_tol = float32 ? 2e-7 : 1e-13, abar_tol = float32 ? 1e-4 : 1e-12;
    const auto index = c.at("index").get<std::vector<size_t>>();
    for (size_t k = 0; k < index.size(); ++k) {
      INFO("t = " << index[k]);
      const double ref_beta = c.at("betas")[k].get<double>(), ref_abar = c.at("alphas_cumprod")[k].get<double>();
      CHECK(std::abs(betas[index[k]] - ref_beta) <= beta_tol * ref_beta);
      CHECK(std::abs(s.alphas_cumprod[index[k]] - ref_abar) <= abar_tol * ref_abar + 1e-12);
    }
  }
}

TEST_CASE("set_timesteps spacings match diffusers", "[diffusion][parity]") {
  for (const auto& c : diffusion_fixture().at("timesteps")) {
    const auto spacing = c.at("spacing").get<std::string>();
    const auto n = c.at("n").get<int64_t>();
    INFO(spacing << " n=" << n << " offset=" << c.at("steps_offset"));
    CHECK(diffusion::spaced_timesteps(c.at("T").get<int64_t>(), n, diffusion::parse_timestep_spacing(spacing),
                           c.at("steps_offset").get<int64_t>()) == c.at("timesteps").get<std::vector<int64_t>>());
  }
  diffusion::DDPMScheduler<double> s;
  CHECK(s.timesteps().size() == 1000);
  CHECK(s.timesteps().front() == 999);
  CHECK(s.previous_timestep(500) == 499);
  s.set_timesteps(std::vector<int64_t>{900, 400, 3});
  CHECK(s.previous_timestep(400) == 3);
  CHECK(s.previous_timestep(3) == -1);
  REQUIRE_ERROR(s.previous_timestep(401), Catch::Contains("timestep 401 is not in the scheduler's 3"));
  REQUIRE_ERROR(s.set_timesteps(std::vector<int64_t>{5, 5}), Catch::Contains("strictly descending"));
  REQUIRE_ERROR(s.set_timesteps(std::vector<int64_t>{1000}), Catch::Contains("outside [0, 1000)"));
  REQUIRE_ERROR(s.set_timesteps(1001), Catch::Contains("num_inference_steps must be in [1, 1000]"));
  REQUIRE_ERROR(diffusion::spaced_timesteps(1000, 1000, diffusion::TimestepSpacing::Leading, 1),
                Catch::Contains("gives timestep 1000 outside [0, 1000)"));
}

TEST_CASE("add_noise and get_velocity match diffusers; add_noise has the forward process's statistics",
          "[diffusion][parity]") {
  const auto& c = diffusion_fixture().at("add_noise");
  const auto x0 = diffusion_tensor(c.at("x0"), c.at("shape")), noise = diffusion_tensor(c.at("noise"), c.at("shape"));
  const auto t = from_vector<int64_t>(c.at("t").get<std::vector<int64_t>>());
  diffusion::DDPMScheduler<double> s;
  LATENT_REQUIRE_CLOSE(s.add_noise(x0, noise, t), diffusion_tensor(c.at("noisy"), c.at("shape")), 1e-12, 1e-14);
  LATENT_REQUIRE_CLOSE(s.get_velocity(x0, noise, t), diffusion_tensor(c.at("velocity"), c.at("shape")), 1e-12, 1e-14);

  // A constant image noised at t = 300: mean sqrt(abar) c, variance 1 - abar.
  Generator gen(7);
  const int64_t n = 20000;
  const auto clean = full<double>({n, 1}, 0.8);
  const auto noisy = s.add_noise(clean, randn<double>({n, 1}, gen), std::vector<int64_t>(n, 300));
  const double abar = s.schedule().alphas_cumprod[300];
  CHECK(std::abs(noisy.mean().item() - std::sqrt(abar) * 0.8) < 4 * std::sqrt((1 - abar) / n));
  CHECK(std::abs(noisy.var().item() - (1 - abar)) < 0.03 * (1 - abar));

  // Training targets per prediction type.
  CHECK(s.training_target(x0, noise, t).is_same(noise));
  diffusion::DDPMScheduler<double> sample_pred({.prediction_type = diffusion::PredictionType::Sample});
  CHECK(sample_pred.training_target(x0, noise, t).is_same(x0));
  diffusion::DDPMScheduler<double> v_pred({.prediction_type = diffusion::PredictionType::VPrediction});
  LATENT_REQUIRE_CLOSE(v_pred.training_target(x0, noise, t), s.get_velocity(x0, noise, t), 0, 0);

  REQUIRE_ERROR(s.add_noise(x0, noise, std::vector<int64_t>{1, 2}),
                Catch::Contains("expected one timestep per sample (4)"));
  REQUIRE_ERROR(s.add_noise(x0, noise, std::vector<int64_t>{1, 2, 3, 1000}),
                Catch::Contains("add_noise: timestep 1000 is outside [0, 1000)"));
  REQUIRE_ERROR(s.add_noise(x0, noise.narrow(0, 0, 2), t), Catch::Contains("but noise has shape"));
}

TEST_CASE("add_noise gradients", "[diffusion][gradcheck]") {
  diffusion::DDPMScheduler<double> s({.num_train_timesteps = 50});
  const auto t = from_vector<int64_t>({3, 49});
  testing::check_grads([&](const std::vector<TensorD>& in) { return s.add_noise(in[0], in[1], t).square().sum(); },
                       {testing::leaf({2, 3}, 1), testing::leaf({2, 3}, 2)});
  testing::check_grads([&](const std::vector<TensorD>& in) { return s.get_velocity(in[0], in[1], t).square().sum(); },
                       {testing::leaf({2, 3}, 3), testing::leaf({2, 3}, 4)});
}

TEST_CASE("diffusion::DDPMScheduler.step matches diffusers", "[diffusion][parity]") {
  for (const auto& c : diffusion_fixture().at("ddpm_step")) {
    INFO("config " << c.at("config").dump() << " set_timesteps " << c.at("set_timesteps") << " t " << c.at("t"));
    diffusion::DDPMScheduler<double> s(diffusion_options<diffusion::DDPMSchedulerOptions>(c.at("config")));
    if (!c.at("set_timesteps").is_null()) s.set_timesteps(c.at("set_timesteps").get<int64_t>());
    const auto& shape = c.at("shape");
    const auto r = s.step(diffusion_tensor(c.at("model_output"), shape), c.at("t").get<int64_t>(),
                          diffusion_tensor(c.at("sample"), shape), diffusion_tensor(c.at("noise"), shape));
    LATENT_REQUIRE_CLOSE(r.prev_sample, diffusion_tensor(c.at("prev_sample"), shape), 1e-10, 1e-12);
    LATENT_REQUIRE_CLOSE(r.pred_original_sample, diffusion_tensor(c.at("pred_original_sample"), shape), 1e-10, 1e-12);
  }
}

TEST_CASE("diffusion::DDPMScheduler.step equals the hand-computed step for every variance and prediction type",
          "[diffusion]") {
  Generator gen(11);
  const auto x = randn<double>({2, 3}, gen), out = randn<double>({2, 3}, gen), z = randn<double>({2, 3}, gen);
  const int64_t t = 400;
  for (auto variance : {diffusion::VarianceType::FixedSmall, diffusion::VarianceType::FixedLarge}) {
    for (auto prediction : {diffusion::PredictionType::Epsilon, diffusion::PredictionType::Sample, diffusion::PredictionType::VPrediction}) {
      INFO(diffusion::to_string(variance) << " " << diffusion::to_string(prediction));
      diffusion::DDPMScheduler<double> s({.variance_type = variance, .clip_sample = false, .prediction_type = prediction});
      const auto& sc = s.schedule();
      const double beta = sc.betas[t], alpha = sc.alphas[t], abar = sc.alphas_cumprod[t];
      // Every prediction type implies a noise estimate; Ho et al. eq. 11 in terms of it.
      TensorD eps = out;
      if (prediction == diffusion::PredictionType::Sample) eps = (x - std::sqrt(abar) * out) * (1 / std::sqrt(1 - abar));
      if (prediction == diffusion::PredictionType::VPrediction) eps = std::sqrt(abar) * out + std::sqrt(1 - abar) * x;
      const double sigma2 = variance == diffusion::VarianceType::FixedLarge ? beta : sc.posterior_variance[t];
      const auto expected = (x - beta / std::sqrt(1 - abar) * eps) * (1 / std::sqrt(alpha)) + std::sqrt(sigma2) * z;
      LATENT_REQUIRE_CLOSE(s.step(out, t, x, z).prev_sample, expected, 1e-11, 1e-12);
      CHECK(std::abs(s.variance(t) - sigma2) < 1e-15);
    }
  }
  // With a generator, the noise is randn from it (and none is drawn at t = 0).
  diffusion::DDPMScheduler<double> s;
  Generator a(5), b(5);
  const auto drawn = s.step(out, t, x, a).prev_sample;
  LATENT_REQUIRE_CLOSE(drawn, s.step(out, t, x, randn<double>({2, 3}, b)).prev_sample, 0, 0);
  const auto before = a.offset();
  (void)s.step(out, 0, x, a);
  CHECK(a.offset() == before);
  // clip_sample clamps the x0 estimate.
  diffusion::DDPMScheduler<double> clipped({.clip_sample = true, .clip_sample_range = 0.25});
  CHECK(clipped.step(out, 999, x, z).pred_original_sample.abs().max().item() <= 0.25);

  REQUIRE_ERROR(s.step(out, t, x.narrow(0, 0, 1), z), Catch::Contains("model_output has shape"));
  REQUIRE_ERROR(s.step(out, t, x, z.narrow(0, 0, 1)), Catch::Contains("variance_noise must have"));
  REQUIRE_ERROR(s.step(out, 1000, x, z), Catch::Contains("timestep 1000 is outside [0, 1000)"));
  REQUIRE_ERROR(diffusion::DDPMScheduler<double>({.num_train_timesteps = 3, .trained_betas = {0.1, 0.2}}),
                Catch::Contains("2 trained_betas given but num_train_timesteps is 3"));
  REQUIRE_ERROR(diffusion::parse_variance_type("learned"), Catch::Contains("fixed_small, fixed_large"));
}

TEST_CASE("diffusion::DDPMScheduler reproduces the course's sampler (RECIPES R9) as recipe_r9()", "[diffusion][parity]") {
  const auto& c = diffusion_fixture().at("recipe_r9");
  diffusion::DDPMScheduler<double> s(diffusion::DDPMSchedulerOptions::recipe_r9());
  const auto& shape = c.at("shape");
  for (const auto& step : c.at("steps")) {
    INFO("t = " << step.at("t"));
    const auto r = s.step(diffusion_tensor(step.at("eps"), shape), step.at("t").get<int64_t>(),
                          diffusion_tensor(step.at("x"), shape), diffusion_tensor(step.at("z"), shape));
    LATENT_REQUIRE_CLOSE(r.prev_sample, diffusion_tensor(step.at("x_prev"), shape), 1e-10, 1e-12);
  }
}

TEST_CASE("diffusion::DDIMScheduler.step matches diffusers, and takes the previous timestep from the list", "[diffusion][parity]") {
  int list_cases = 0;
  for (const auto& c : diffusion_fixture().at("ddim_step")) {
    INFO("config " << c.at("config").dump() << " n " << c.at("n") << " t " << c.at("t") << " eta " << c.at("eta"));
    diffusion::DDIMScheduler<double> s(diffusion_options<diffusion::DDIMSchedulerOptions>(c.at("config")));
    s.set_timesteps(c.at("n").get<int64_t>());
    const auto& shape = c.at("shape");
    const auto r = s.step(diffusion_tensor(c.at("model_output"), shape), c.at("t").get<int64_t>(),
                          diffusion_tensor(c.at("sample"), shape), c.at("eta").get<double>(),
                          diffusion_tensor(c.at("noise"), shape), c.at("use_clipped_model_output").get<bool>());
    LATENT_REQUIRE_CLOSE(r.prev_sample, diffusion_tensor(c.at("prev_sample"), shape), 1e-10, 1e-12);
    LATENT_REQUIRE_CLOSE(r.pred_original_sample, diffusion_tensor(c.at("pred_original_sample"), shape), 1e-10, 1e-12);
    if (c.at("reference").get<std::string>() == "list-prev") {
      // diffusers' t - T / n lands beside the list's next entry here: a different step.
      CHECK(diffusion_max_abs_diff(r.prev_sample, diffusion_tensor(c.at("diffusers_prev_sample"), shape)) > 1e-6);
      ++list_cases;
    }
  }
  CHECK(list_cases >= 3);

  diffusion::DDIMScheduler<double> s;
  const auto x = ones<double>({1, 2});
  REQUIRE_ERROR(s.step(x, 999, x), Catch::Contains("call set_timesteps(n) first"));
  s.set_timesteps(10);
  REQUIRE_ERROR(s.step(x, 999, x), Catch::Contains("timestep 999 is not in the scheduler's 10"));
  REQUIRE_ERROR(s.step(x, 900, x, -0.5), Catch::Contains("eta must be >= 0"));
}

TEST_CASE("DDIM with eta = 0 is deterministic; eta > 0 is not", "[diffusion]") {
  diffusion::DDIMScheduler<double> s;
  s.set_timesteps(20);
  Generator noise_gen(1);
  const auto x_T = randn<double>({3, 4}, noise_gen);
  const auto model = [](const TensorD& x, const TensorD& t) { return 0.5 * x + t.unsqueeze(1) * 1e-3; };
  Generator g1(10), g2(20);
  const auto a = diffusion::sample_loop<double>(model, s, x_T, {.generator = &g1});
  const auto b = diffusion::sample_loop<double>(model, s, x_T, {.generator = &g2});
  LATENT_REQUIRE_CLOSE(a, b, 0, 0);
  Generator g3(10), g4(20);
  const auto c = diffusion::sample_loop<double>(model, s, x_T, {.eta = 1.0, .generator = &g3});
  const auto d = diffusion::sample_loop<double>(model, s, x_T, {.eta = 1.0, .generator = &g4});
  CHECK(diffusion_max_abs_diff(c, d) > 1e-3);
}

TEST_CASE("an oracle noise model takes the reverse process back to x0", "[diffusion]") {
  Generator gen(3);
  const auto x0 = uniform<double>({2, 1, 4, 4}, -1, 1, gen);
  const auto noise = randn<double>({2, 1, 4, 4}, gen);

  SECTION("DDIM, 50 steps, eta = 0") {
    diffusion::DDIMScheduler<double> s({.clip_sample = false});
    s.set_timesteps(50);
    const auto x_T = s.add_noise(x0, noise, std::vector<int64_t>(2, s.timesteps().front()));
    const auto out = diffusion::sample_loop<double>(
        [&](const TensorD& x, const TensorD& t) { return oracle_noise(s, x0, x, static_cast<int64_t>(t.at({0}))); }, s,
        x_T);
    LATENT_REQUIRE_CLOSE(out, x0, 1e-9, 1e-9);
  }
  SECTION("DDPM, all 1000 ancestral steps (recipe R9)") {
    diffusion::DDPMScheduler<double> s(diffusion::DDPMSchedulerOptions::recipe_r9());
    const auto x_T = s.add_noise(x0, noise, std::vector<int64_t>(2, 999));
    std::vector<int64_t> seen;
    const auto out = diffusion::sample_loop<double>(
        [&](const TensorD& x, const TensorD& t) { return oracle_noise(s, x0, x, static_cast<int64_t>(t.at({1}))); }, s,
        x_T,
        {.generator = &gen, .clamp_to = std::pair{-1.0, 1.0},
         .callback = [&](const diffusion::SamplingStep<double>& step) {
           CHECK(step.count == 1000);
           CHECK(step.index == static_cast<int64_t>(seen.size()));
           seen.push_back(step.timestep);
           if (step.timestep % 250 == 0) LATENT_REQUIRE_CLOSE(step.pred_original_sample, x0, 1e-7, 1e-7);
         }});
    CHECK(seen == s.timesteps());
    LATENT_REQUIRE_CLOSE(out, x0, 1e-9, 1e-9);
  }
}

TEST_CASE("classifier-free guidance mixes conditional and unconditional outputs", "[diffusion]") {
  // A fake conditional model: x + label, so the guided output is x + null + scale (y - null).
  int calls = 0;
  const auto model = [&](const TensorD& x, const TensorD&, const IndexTensor& y) {
    ++calls;
    const auto labels = y.to_vector();
    std::vector<double> shift(labels.begin(), labels.end());
    return x + from_vector<double>(shift, Shape{static_cast<int64_t>(shift.size()), 1});
  };
  const auto x = zeros<double>({2, 3});
  const auto t = full<double>({2}, 10.0);
  const auto guided = diffusion::classifier_free_guidance<double>(model, from_vector<int64_t>({1, 4}), 10, 3.0);
  const auto out = guided(x, t);
  CHECK(calls == 1);  // one batch of 2N
  LATENT_REQUIRE_CLOSE(out, from_vector<double>({-17, -17, -17, -8, -8, -8}, {2, 3}), 0, 1e-12);
  const auto plain = diffusion::classifier_free_guidance<double>(model, from_vector<int64_t>({1, 4}), 10, 1.0)(x, t);
  LATENT_REQUIRE_CLOSE(plain, from_vector<double>({1, 1, 1, 4, 4, 4}, {2, 3}), 0, 0);
  REQUIRE_ERROR(guided(zeros<double>({3, 3}), full<double>({3}, 1.0)),
                Catch::Contains("2 labels for a batch of 3"));
}

TEST_CASE("diffusion::random_timesteps covers [first, T) uniformly", "[diffusion]") {
  Generator gen(9);
  const auto t = diffusion::random_timesteps(4000, 10, gen, 1).to_vector();
  std::vector<int> counts(10, 0);
  for (auto v : t) {
    REQUIRE(v >= 1);
    REQUIRE(v < 10);
    ++counts[static_cast<size_t>(v)];
  }
  CHECK(counts[0] == 0);
  for (int k = 1; k < 10; ++k) CHECK(std::abs(counts[k] - 4000 / 9) < 120);
  REQUIRE_ERROR(diffusion::random_timesteps(4, 10, gen, 10), Catch::Contains("first must be in [0, 10)"));
}
