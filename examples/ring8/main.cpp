// ring8 (RECIPES R8): mode collapse on a mixture of 8 Gaussians on a ring. The same small
// G and D are trained with the vanilla (non-saturating, BCE) loss and with WGAN-GP, and
// each run reports how many of the 8 modes its samples hit and the share of high-quality
// samples (within 3 standard deviations of their nearest mode; metrics/mode_coverage.hpp).
// Writes to --out (default out/ring8): <loss>_samples.png (real vs generated),
// <loss>_samples.csv, <loss>_losses.csv/.png, and summary.csv (loss,modes_hit,high_quality).
//
//   ring8 [--steps 3000] [--batch-size 256] [--losses ns,wgan-gp] [--stddev 0.02]
#include <latent/data.hpp>
#include <latent/gan.hpp>
#include <latent/io.hpp>
#include <latent/metrics.hpp>
#include <latent/nn.hpp>

#include "../common/example.hpp"

using namespace latent;
using Net = std::shared_ptr<nn::Sequential<float>>;

namespace {

Net mlp(int64_t in, int64_t hidden, int64_t out) {
  return nn::sequential<float>(std::make_shared<nn::Linear<float>>(in, hidden), nn::ReLU<float>(),
                               std::make_shared<nn::Linear<float>>(hidden, hidden), nn::ReLU<float>(),
                               std::make_shared<nn::Linear<float>>(hidden, out));
}

std::vector<double> column(const TensorF& points, int64_t c) {
  auto v = points.select(1, c).contiguous().to_vector();
  return {v.begin(), v.end()};
}

struct RunResult {
  std::string loss;
  metrics::ModeCoverage coverage;
};

RunResult train_one(const std::string& loss_name, const examples::CommonArgs& args, int64_t g_steps, int64_t hidden,
                    const data::GaussianRingOptions& ring, int64_t num_samples) {
  const auto loss = gan::parse_loss(loss_name);
  const auto recipe = gan::recipe_for(loss);  // R6: optimizer, lr, betas, n_critic per loss
  manual_seed(args.seed);
  const int64_t latent_dim = 2;
  auto G = mlp(latent_dim, hidden, 2);
  auto D = mlp(2, hidden, 1);
  const bool bce = gan::AdversarialLoss(loss).bce_family();
  if (bce) D->push_back(nn::Sigmoid<float>());
  // The R6 WGAN-GP settings; the BCE family gets a faster Adam than DCGAN's 2e-4 because the
  // toy nets are small (what the unrolled-GAN paper's 2-D experiments use: 1e-3).
  auto opt_g = gan::make_optimizer<float>(bce ? gan::LossRecipe{"adam", 1e-3, 0.5, 0.999, 1, 0} : recipe,
                                          G->parameters());
  auto opt_d = gan::make_optimizer<float>(bce ? gan::LossRecipe{"adam", 1e-3, 0.5, 0.999, 1, 0} : recipe,
                                          D->parameters());
  gan::TrainerOptions options;
  options.loss = gan::AdversarialLoss(loss);
  options.latent_dim = latent_dim;
  options.n_critic = recipe.n_critic;
  options.clip_value = recipe.clip_value;
  options.seed = args.seed + 1;
  gan::Trainer<float> trainer(G, D, *opt_g, *opt_d, options);

  Generator data_gen(args.seed + 2);
  io::CsvWriter losses(args.out / (loss_name + "_losses.csv"), {"step", "d_loss", "g_loss"});
  std::vector<double> steps, d_curve, g_curve;
  io::Progress progress(loss_name, g_steps);
  while (trainer.g_steps() < g_steps) {
    auto real = data::gaussian_ring<float>(args.batch_size, data_gen, ring).first;
    auto s = trainer.step(real);
    if (!s.generator_stepped) continue;
    losses.row(s.g_steps, s.d_loss, s.g_loss);
    steps.push_back(static_cast<double>(s.g_steps));
    d_curve.push_back(s.d_loss);
    g_curve.push_back(s.g_loss);
    progress.update(s.g_steps, {{"d_loss", s.d_loss}, {"g_loss", s.g_loss}});
  }
  progress.finish();
  losses.close();
  io::save_loss_plot(args.out / (loss_name + "_losses.png"), steps, {{"d_loss", d_curve}, {"g_loss", g_curve}},
                     std::nullopt, {.title = "8-Gaussian ring, " + loss_name});

  Generator eval_gen(args.seed + 3);
  auto samples = trainer.sample(randn<float>({num_samples, latent_dim}, eval_gen));
  auto real = data::gaussian_ring<float>(num_samples, eval_gen, ring).first;
  io::CsvWriter csv(args.out / (loss_name + "_samples.csv"), {"x", "y"});
  auto v = samples.contiguous().to_vector();
  for (size_t i = 0; i + 1 < v.size(); i += 2) csv.row(v[i], v[i + 1]);
  csv.close();
  auto coverage = metrics::ring_mode_coverage(samples, ring);
  const double lim = ring.radius * 1.5;
  io::save_plot(args.out / (loss_name + "_samples.png"),
                {{.label = "real", .x = column(real, 0), .y = column(real, 1), .color = io::Rgb{150, 150, 150},
                  .kind = io::Series::Kind::scatter},
                 {.label = "generated", .x = column(samples, 0), .y = column(samples, 1), .color = io::tab10(3),
                  .kind = io::Series::Kind::scatter}},
                {.title = loss_name + ": " + std::to_string(coverage.modes_hit) + "/8 modes", .x_label = "x",
                 .y_label = "y", .width = 700, .height = 700, .x_range = {{-lim, lim}}, .y_range = {{-lim, lim}}});
  return {loss_name, coverage};
}

}  // namespace

int example_main(int argc, char** argv) {
  examples::CommonArgs args;
  args.batch_size = 256;
  args.out = "out/ring8";
  int64_t g_steps = 3000, hidden = 128, num_samples = 2000;
  std::string loss_list = "ns,wgan-gp";
  data::GaussianRingOptions ring;

  CLI::App app{"Vanilla GAN vs WGAN-GP on 8 Gaussians on a ring: modes covered (RECIPES R8)"};
  examples::add_common_options(app, args, "unused: the data are generated");
  app.add_option("--steps", g_steps, "generator steps per run")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--hidden", hidden, "width of G's and D's two hidden layers")->capture_default_str();
  app.add_option("--losses", loss_list, "comma-separated losses to compare")->capture_default_str();
  app.add_option("--stddev", ring.stddev, "standard deviation of each mode")->capture_default_str();
  app.add_option("--samples", num_samples, "samples scored and plotted per run")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  examples::start("ring8", args);

  std::vector<RunResult> results;
  std::stringstream names(loss_list);
  for (std::string name; std::getline(names, name, ',');) results.push_back(train_one(name, args, g_steps, hidden, ring, num_samples));

  io::CsvWriter summary(args.out / "summary.csv", {"loss", "modes_hit", "high_quality"});
  std::printf("%-10s %10s %14s\n", "loss", "modes hit", "high quality");
  for (const auto& r : results) {
    summary.row(r.loss, r.coverage.modes_hit, r.coverage.high_quality_fraction);
    std::printf("%-10s %8lld/8 %13.1f%%\n", r.loss.c_str(), static_cast<long long>(r.coverage.modes_hit),
                100 * r.coverage.high_quality_fraction);
  }
  summary.close();
  return 0;
}

int main(int argc, char** argv) {
  return examples::run_main("ring8", [&] { return example_main(argc, argv); });
}
