// parabola_gan (RECIPES R2): a GAN learns the distribution of points (x, x^2), x ~ U(-1, 1).
// What ./scripts/demo.sh runs. Writes to --out (default out/parabola_gan):
//   samples.csv   1000 generated points from fresh noise (x,y)
//   real.csv      1000 points of the data (x,y)
//   samples.png   real vs generated, scatter
//   losses.csv    step,d_loss,g_loss          losses.png  the curves
//   checkpoint.safetensors (G, D, optimizers, generator state; --resume continues from it)
// and prints how well the samples cover the parabola: mean |y - x^2| and the share of x in
// each quarter of [-1, 1] (an even spread is 25% each).
//
//   parabola_gan [--batches 10000] [--batch-size 512] [--loss ns] [--quirk] [--seed 0]
#include <latent/data.hpp>
#include <latent/gan.hpp>
#include <latent/io.hpp>
#include <latent/nn.hpp>

#include "../common/example.hpp"

using namespace latent;
using Net = std::shared_ptr<nn::Sequential<float>>;

namespace {

// R2: G: Linear(10,50) ReLU Linear(50,50) ReLU Linear(50,2).
Net make_generator(int64_t latent_dim, int64_t hidden) {
  return nn::sequential<float>(std::make_shared<nn::Linear<float>>(latent_dim, hidden), nn::ReLU<float>(),
                               std::make_shared<nn::Linear<float>>(hidden, hidden), nn::ReLU<float>(),
                               std::make_shared<nn::Linear<float>>(hidden, 2));
}

// R2: D: Linear(2,50) ReLU Linear(50,50) ReLU Linear(50,1) Sigmoid (no Sigmoid for the
// losses that take raw scores).
Net make_discriminator(int64_t hidden, bool sigmoid) {
  auto d = nn::sequential<float>(std::make_shared<nn::Linear<float>>(2, hidden), nn::ReLU<float>(),
                                 std::make_shared<nn::Linear<float>>(hidden, hidden), nn::ReLU<float>(),
                                 std::make_shared<nn::Linear<float>>(hidden, 1));
  if (sigmoid) d->push_back(nn::Sigmoid<float>());
  return d;
}

std::vector<double> column(const TensorF& points, int64_t c) {
  auto v = points.select(1, c).contiguous().to_vector();
  return {v.begin(), v.end()};
}

void write_points(const std::filesystem::path& path, const TensorF& points) {
  io::CsvWriter csv(path, {"x", "y"});
  auto v = points.contiguous().to_vector();
  for (size_t i = 0; i + 1 < v.size(); i += 2) csv.row(v[i], v[i + 1]);
  csv.close();
}

}  // namespace

int example_main(int argc, char** argv) {
  examples::CommonArgs args;
  args.batch_size = 512;
  args.out = "out/parabola_gan";
  int64_t batches = 10000, latent_dim = 10, hidden = 50, num_samples = 1000;
  std::string loss_name = "ns";
  double lr = 3e-4, ema = 0;
  bool quirk = false, resume = false;

  CLI::App app{"GAN on points of the parabola y = x^2 (RECIPES R2)"};
  examples::add_common_options(app, args, "unused: the data are generated (x ~ U(-1, 1), y = x^2)");
  app.add_option("--batches", batches, "steps per epoch (R2: 10000)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--latent-dim", latent_dim, "size of G's noise (R2: 10)")->capture_default_str();
  app.add_option("--lr", lr, "Adam learning rate of both nets (R2: 3e-4)")->capture_default_str();
  app.add_option("--ema", ema, "decay of an EMA of G's weights that draws the samples (e.g. 0.999; 0: off)")
      ->capture_default_str();
  app.add_option("--loss", loss_name, "minimax, ns, lsgan, wgan, wgan-gp or hinge")->capture_default_str();
  app.add_option("--samples", num_samples, "points in samples.csv and real.csv")->capture_default_str();
  app.add_flag("--quirk", quirk, "the seed's D step: fake batch not detached (D's backward reaches G)");
  app.add_flag("--resume", resume, "continue from <out>/checkpoint.safetensors");
  CLI11_PARSE(app, argc, argv);
  examples::start("parabola_gan", args);

  const auto loss = gan::parse_loss(loss_name);
  auto G = make_generator(latent_dim, hidden);
  auto D = make_discriminator(hidden, /*sigmoid=*/gan::AdversarialLoss(loss).bce_family());
  optim::AdamOptions adam;  // R2: lr 3e-4, betas (0.9, 0.999)
  adam.lr = lr;
  optim::Adam<float> opt_g(G->parameters(), adam), opt_d(D->parameters(), adam);

  gan::TrainerOptions options;
  options.loss = gan::AdversarialLoss(loss);
  options.latent_dim = latent_dim;
  options.detach_fake = !quirk;
  options.seed = args.seed + 1;
  options.ema_decay = ema;
  if (gan::is_wasserstein(loss)) options.n_critic = 5;
  if (loss == gan::Loss::wgan) options.clip_value = 0.01;
  gan::Trainer<float> trainer(G, D, opt_g, opt_d, options);

  const auto checkpoint = args.out / "checkpoint.safetensors";
  int64_t first_epoch = 0;
  if (resume) {
    auto ckpt = trainer.load(checkpoint, [&](io::Checkpoint& c) { c.counters["epoch"] = 0; });
    first_epoch = ckpt.counters.at("epoch");
    std::cout << "resumed from " << checkpoint.string() << " at epoch " << first_epoch << "\n";
  }

  io::CsvWriter losses(args.out / "losses.csv", {"step", "d_loss", "g_loss"});
  std::vector<double> steps, d_curve, g_curve;
  // One epoch = `batches` batches of fresh points, as R2 (5.12M points at the defaults).
  data::DataLoader loader(data::parabola_dataset<float>(batches * args.batch_size, args.seed),
                          {.batch_size = args.batch_size, .shuffle = false, .drop_last = true});
  for (int64_t epoch = first_epoch; epoch < args.epochs; ++epoch) {
    io::Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(args.epochs), batches);
    loader.set_epoch(epoch);
    int64_t i = 0;
    for (auto& [real] : loader) {
      auto s = trainer.step(real);
      if (s.generator_stepped) {
        losses.row(s.d_steps, s.d_loss, s.g_loss);
        steps.push_back(static_cast<double>(s.d_steps));
        d_curve.push_back(s.d_loss);
        g_curve.push_back(s.g_loss);
      }
      progress.update(++i, {{"d_loss", s.d_loss}, {"g_loss", s.g_loss}});
    }
    progress.finish();
    trainer.save(checkpoint, [&](io::Checkpoint& c) { c.counters["epoch"] = epoch + 1; });
  }
  losses.close();
  if (!steps.empty())
    io::save_loss_plot(args.out / "losses.png", steps, {{"d_loss", d_curve}, {"g_loss", g_curve}}, std::nullopt,
                       {.title = "parabola GAN (" + loss_name + ")"});

  Generator eval_gen(args.seed + 2);
  auto samples = trainer.sample(randn<float>({num_samples, latent_dim}, eval_gen));
  auto real = data::parabola_points<float>(num_samples, eval_gen);
  write_points(args.out / "samples.csv", samples);
  write_points(args.out / "real.csv", real);
  io::save_plot(args.out / "samples.png",
                {{.label = "real", .x = column(real, 0), .y = column(real, 1), .color = io::Rgb{150, 150, 150},
                  .kind = io::Series::Kind::scatter},
                 {.label = "generated", .x = column(samples, 0), .y = column(samples, 1), .color = io::tab10(1),
                  .kind = io::Series::Kind::scatter}},
                {.title = "parabola GAN: real vs generated", .x_label = "x", .y_label = "y",
                 .x_range = {{-1.5, 1.5}}, .y_range = {{-0.5, 1.5}}});

  auto fit = examples::parabola_fit(samples);
  examples::print_fit(fit);
  bool spread = true;
  for (double q : fit.quarter_share) spread = spread && q >= 0.15 && q <= 0.35;
  std::printf("outcome (R2: mean |y - x^2| <= 0.02 and 15-35%% of x per quarter): %s\n",
              fit.mean_abs_error <= 0.02 && spread ? "reached" : "not reached");
  std::cout << "wrote " << (args.out / "samples.png").string() << ", samples.csv, real.csv, losses.csv, losses.png, "
            << checkpoint.filename().string() << "\n";
  return 0;
}

int main(int argc, char** argv) {
  return examples::run_main("parabola_gan", [&] { return example_main(argc, argv); });
}
