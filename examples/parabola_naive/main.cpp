// parabola_naive (RECIPES R1): what not to do. A generator is trained to put each of its
// points as close as possible to the nearest data point (cdist, then min over the data).
// Its points land on the parabola but bunch up: nothing asks them to follow the data's
// distribution, which is why a GAN needs a discriminator (compare parabola_gan).
// Writes to --out (default out/parabola_naive): samples.csv, real.csv, samples.png,
// losses.csv, losses.png; prints the same coverage figures as parabola_gan.
#include <latent/data.hpp>
#include <latent/io.hpp>
#include <latent/nn.hpp>

#include "../common/example.hpp"

using namespace latent;

namespace {

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
  args.epochs = 10;
  args.batch_size = 128;
  args.out = "out/parabola_naive";
  int64_t batches = 30, num_samples = 1000;
  double lr = 1e-3;

  CLI::App app{"Naive generation on a parabola: nearest-point loss, no discriminator (RECIPES R1)"};
  examples::add_common_options(app, args, "unused: the data are generated (x ~ U(-1, 1), y = x^2)");
  app.add_option("--batches", batches, "batches per epoch; the data hold batches * batch-size points (R1: 30)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--lr", lr, "Adam learning rate (R1: 1e-3)")->capture_default_str();
  app.add_option("--samples", num_samples, "points in samples.csv")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  examples::start("parabola_naive", args);

  Generator data_gen(args.seed);
  auto data_points = data::parabola_points<float>(batches * args.batch_size, data_gen);  // R1: 30 * 128
  // R1: latent dim 1; Linear(1,50) ReLU Linear(50,50) ReLU Linear(50,2).
  auto G = nn::sequential<float>(std::make_shared<nn::Linear<float>>(1, 50), nn::ReLU<float>(),
                                 std::make_shared<nn::Linear<float>>(50, 50), nn::ReLU<float>(),
                                 std::make_shared<nn::Linear<float>>(50, 2));
  optim::AdamOptions adam;
  adam.lr = lr;
  optim::Adam<float> opt(G->parameters(), adam);

  io::CsvWriter losses(args.out / "losses.csv", {"step", "loss"});
  std::vector<double> steps, curve;
  Generator noise_gen(args.seed + 1);
  int64_t step = 0;
  for (int epoch = 0; epoch < args.epochs; ++epoch) {
    io::Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(args.epochs), batches);
    for (int64_t b = 0; b < batches; ++b) {
      auto fake = (*G)(randn<float>({args.batch_size, 1}, noise_gen));
      // Distance from each generated point to its nearest data point, averaged.
      auto loss = cdist(fake, data_points).amin({1}).mean();
      opt.zero_grad();
      loss.backward();
      opt.step();
      ++step;
      losses.row(step, loss.item());
      steps.push_back(static_cast<double>(step));
      curve.push_back(loss.item());
      progress.update(b + 1, {{"loss", loss.item()}});
    }
    progress.finish();
  }
  losses.close();
  io::save_loss_plot(args.out / "losses.png", steps, {{"nearest-point distance", curve}}, std::nullopt,
                     {.title = "parabola, naive nearest-point loss"});

  Generator eval_gen(args.seed + 2);
  TensorF samples;
  {
    NoGradGuard no_grad;
    samples = (*G)(randn<float>({num_samples, 1}, eval_gen));
  }
  auto real = data::parabola_points<float>(num_samples, eval_gen);
  write_points(args.out / "samples.csv", samples);
  write_points(args.out / "real.csv", real);
  io::save_plot(args.out / "samples.png",
                {{.label = "real", .x = column(real, 0), .y = column(real, 1), .color = io::Rgb{150, 150, 150},
                  .kind = io::Series::Kind::scatter},
                 {.label = "generated", .x = column(samples, 0), .y = column(samples, 1), .color = io::tab10(3),
                  .kind = io::Series::Kind::scatter}},
                {.title = "naive generator: real vs generated", .x_label = "x", .y_label = "y",
                 .x_range = {{-1.5, 1.5}}, .y_range = {{-0.5, 1.5}}});
  examples::print_fit(examples::parabola_fit(samples));
  std::cout << "the points sit on the parabola (small |y - x^2|) but do not spread like the data: compare the "
               "quarters with parabola_gan's\n";
  return 0;
}

int main(int argc, char** argv) {
  return examples::run_main("parabola_naive", [&] { return example_main(argc, argv); });
}
