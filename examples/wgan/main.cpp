// wgan (RECIPES R6 on R3's DCGAN): one image GAN, trained with any of R6's loss families
// on FashionMNIST or MNIST at 32x32, each with its recipe's defaults (gan::recipe_for):
//   wgan     RMSprop lr 5e-5, n_critic 5, weight clip 0.01
//   wgan-gp  Adam lr 1e-4 betas (0, 0.9), n_critic 5, lambda 10
//   lsgan, hinge, ns (and minimax)  Adam lr 2e-4 betas (0.5, 0.999), n_critic 1 (R3)
// G is R3's generator; D is R3's discriminator giving raw scores (see make_discriminator).
// Writes to --out (default out/wgan_<loss>):
//   real.png                 a grid of real training images
//   epoch_NNN.png            G's images of one fixed noise batch (8x8) after each epoch
//   losses.csv, losses.png   one row per D step: step,g_step,d_loss,g_loss,d_x,d_g_z,
//                            score_gap,penalty, and the curves
//   checkpoint.safetensors   the whole training state after each epoch (--resume)
//   generator.safetensors    G's weights alone (PyTorch state_dict names, as dcgan_fashion's)
//
//   wgan [--loss wgan-gp] [--dataset fashion|mnist] [--split train|test] [--epochs 3]
//        [--n-critic N] [--lr X] [--clip C] [--gp-weight 10] [--spectral-norm] [--limit N] [--resume]
#include <latent/data.hpp>
#include <latent/gan.hpp>
#include <latent/io.hpp>
#include <latent/nn.hpp>

#include <chrono>
#include <limits>

#include "../common/dcgan.hpp"
#include "../common/example.hpp"

using namespace latent;
using Net = std::shared_ptr<nn::Sequential<float>>;

namespace {

// R3's D (examples::make_dcgan_discriminator) without its Sigmoid: four blocks
// [Conv(in,out,3,2,1) LReLU(0.2) Dropout2d(0.25) BN(out, eps=0.8)] (no BN in the first) for
// 1 -> 16 -> 32 -> 64 -> 128, then flatten -> Linear(128*2*2, 1). Every family here takes
// raw scores (ns and minimax through BCE-with-logits). For wgan and wgan-gp (`critic`) the
// blocks are Conv and LReLU only: R6 allows no BatchNorm in the critic (the penalty is per
// sample, and BN ties a sample's score to its batch), and without dropout the critic is one
// deterministic function, so the penalty and the Wasserstein estimate, taken on separate
// forward passes, see the same f.
Net make_discriminator(bool critic) {
  return examples::make_dcgan_discriminator({.dropout = !critic, .batch_norm = !critic, .sigmoid = false});
}

std::string epoch_file(int64_t epoch) {
  char name[32];
  std::snprintf(name, sizeof name, "epoch_%03lld.png", static_cast<long long>(epoch));
  return name;
}

}  // namespace

int example_main(int argc, char** argv) {
  examples::CommonArgs args;
  args.epochs = 3;
  args.batch_size = 64;
  std::string loss_arg = "wgan-gp", dataset = "fashion", split = "train";
  int64_t latent_dim = 100, limit = 0;
  int n_critic = 0;
  double lr = 0, clip = 0, gp_weight = 10;
  bool spectral = false, resume = false;

  CLI::App app{"One DCGAN trained with any of R6's losses on FashionMNIST or MNIST at 32x32 (RECIPES R3, R6)"};
  examples::add_common_options(app, args, "dataset directory (default: the usual places, see data/mnist.hpp)");
  app.add_option("--loss", loss_arg, "wgan, wgan-gp, lsgan, hinge or ns (also: minimax, non-saturating, bce)")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& name) {
            try {
              gan::parse_loss(name);
              return std::string();
            } catch (const Error& e) {
              return std::string(e.what());
            }
          },
          "LOSS"));
  app.add_option("--dataset", dataset, "fashion or mnist")
      ->check(CLI::IsMember({"fashion", "mnist"}))
      ->capture_default_str();
  app.add_option("--split", split, "training split (MNIST offline: test only)")
      ->check(CLI::IsMember({"train", "test"}))
      ->capture_default_str();
  app.add_option("--n-critic", n_critic, "D steps per G step (default: 5 for wgan, wgan-gp; 1 otherwise)")
      ->check(CLI::PositiveNumber);
  app.add_option("--lr", lr, "learning rate of both optimizers (default: 5e-5 wgan, 1e-4 wgan-gp, 2e-4 otherwise)")
      ->check(CLI::PositiveNumber);
  app.add_option("--clip", clip, "clip D's weights to [-C, C] after each D step (default: 0.01 for wgan, else off)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--gp-weight", gp_weight, "lambda of wgan-gp's gradient penalty")->capture_default_str()->check(
      CLI::NonNegativeNumber);
  app.add_option("--limit", limit, "train on the first N images only (0: all)")->capture_default_str();
  app.add_flag("--spectral-norm", spectral, "spectral normalisation of D's Linear and Conv2d layers (R4)");
  app.add_flag("--resume", resume, "continue from <out>/checkpoint.safetensors");
  CLI11_PARSE(app, argc, argv);

  const gan::Loss loss = gan::parse_loss(loss_arg);
  const std::string name(gan::loss_name(loss));
  const bool critic = gan::is_wasserstein(loss);
  gan::LossRecipe recipe = gan::recipe_for(loss);
  if (app.count("--lr")) recipe.lr = lr;
  if (app.count("--n-critic")) recipe.n_critic = n_critic;
  if (app.count("--clip")) recipe.clip_value = clip;
  if (args.out.empty()) args.out = "out/wgan_" + name;
  examples::start("wgan", args);

  const auto [images, labels, title] = examples::load_images(dataset, split, args.data, limit);
  // R3: 28 -> 32 bilinear, then [0, 1] -> [-1, 1]; applied once, at load.
  data::ImageDataset train(images, labels, data::Compose{data::Resize(32), data::Normalize({0.5}, {0.5})});
  data::DataLoader loader(train, {.batch_size = args.batch_size, .shuffle = true, .seed = args.seed});
  std::cout << title << " " << split << ": " << train.size() << " images of 32x32, " << loader.size()
            << " D steps per epoch\n";

  auto G = examples::make_dcgan_generator(latent_dim);
  auto D = make_discriminator(critic);
  G->apply([](nn::Module<float>& m) { examples::dcgan_init(m); });
  // NOTE: the critic keeps its layers' default (PyTorch's) init. With R3's N(0, 0.02) and
  // no normalisation its input gradient starts near 0, so wgan-gp's penalty starts at
  // lambda and the critic spends hundreds of steps raising it while G runs ahead.
  if (!critic) D->apply([](nn::Module<float>& m) { examples::dcgan_init(m); });
  if (spectral) examples::apply_spectral_norm(*D);  // R4
  auto opt_g = gan::make_optimizer<float>(recipe, G->parameters());
  auto opt_d = gan::make_optimizer<float>(recipe, D->parameters());

  gan::TrainerOptions options;
  options.loss = gan::AdversarialLoss(loss, /*logits=*/true);  // only the BCE family reads `logits`
  options.latent_dim = latent_dim;
  options.n_critic = recipe.n_critic;
  options.clip_value = recipe.clip_value;
  options.gp_weight = gp_weight;
  options.seed = args.seed + 1;
  gan::Trainer<float> trainer(G, D, *opt_g, *opt_d, options);
  std::printf("loss %s: %s lr %g", name.c_str(), recipe.optimizer.c_str(), recipe.lr);
  if (recipe.optimizer == "adam") std::printf(" betas (%g, %g)", recipe.beta1, recipe.beta2);
  std::printf(", n_critic %d", recipe.n_critic);
  if (recipe.clip_value > 0) std::printf(", clip %g", recipe.clip_value);
  if (loss == gan::Loss::wgan_gp) std::printf(", lambda %g", gp_weight);
  std::printf("; D %s%s\n", critic ? "without BatchNorm or Dropout" : "as R3 without its Sigmoid",
              spectral ? ", spectral norm" : "");

  const auto checkpoint = args.out / "checkpoint.safetensors";
  int64_t first_epoch = 0;
  if (resume) {
    // A checkpoint of another loss has another D or optimizer: say so before loading.
    const auto meta = io::SafeTensors::read_file(checkpoint).metadata();
    if (auto it = meta.find("loss"); it != meta.end() && it->second != name)
      throw Error("wgan: " + checkpoint.string() + " was trained with --loss " + it->second +
                  "; resume it with that loss or pick another --out");
    auto ckpt = trainer.load(checkpoint, [&](io::Checkpoint& c) { c.counters["epoch"] = 0; });
    first_epoch = ckpt.counters.at("epoch");
    std::cout << "resumed from " << checkpoint.string() << " after epoch " << first_epoch << "\n";
    // Loading restored the optimizers' saved settings (as PyTorch's load_state_dict does);
    // an --lr given now is what the user wants from here on.
    if (app.count("--lr") && opt_d->lr(0) != lr) {
      std::printf("--lr %g replaces the checkpoint's lr %g\n", lr, opt_d->lr(0));
      for (auto* opt : {opt_g.get(), opt_d.get()})
        for (size_t group = 0; group < opt->num_groups(); ++group) opt->set_lr(group, lr);
    }
  }

  Generator fixed_gen(args.seed + 2);
  const auto fixed_noise = randn<float>({64, latent_dim}, fixed_gen);
  const io::GridOptions grid{.nrow = 8, .normalize = true, .value_range = {{-1.0, 1.0}}};
  io::save_image(args.out / "real.png", train.images().narrow(0, 0, std::min<int64_t>(64, train.size())), grid);

  // score_gap = mean D(x) - mean D(G(z)): the Wasserstein estimate for wgan and wgan-gp.
  // g_loss is nan until G's first step. losses.csv keeps the rows of earlier runs when resuming.
  io::CsvWriter losses(args.out / (resume ? "losses_resumed.csv" : "losses.csv"),
                       {"step", "g_step", "d_loss", "g_loss", "d_x", "d_g_z", "score_gap", "penalty"});
  std::vector<double> steps, d_curve, g_curve, gap_curve;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto started = std::chrono::steady_clock::now();
  for (int64_t epoch = first_epoch; epoch < args.epochs; ++epoch) {
    loader.set_epoch(epoch);
    G->train();
    D->train();
    io::Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(args.epochs), loader.size());
    int64_t i = 0, g_count = 0;
    double d_sum = 0, g_sum = 0, gap_sum = 0;
    for (auto& batch : loader) {
      auto s = trainer.step(batch.images);
      const double g = s.g_steps > 0 ? s.g_loss : nan, gap = s.d_x - s.d_g_z;
      losses.row(s.d_steps, s.g_steps, s.d_loss, g, s.d_x, s.d_g_z, gap, s.penalty);
      steps.push_back(static_cast<double>(s.d_steps));
      d_curve.push_back(s.d_loss);
      g_curve.push_back(g);
      gap_curve.push_back(gap);
      d_sum += s.d_loss;
      gap_sum += gap;
      if (s.generator_stepped) {
        g_sum += s.g_loss;
        ++g_count;
      }
      std::vector<std::pair<std::string, double>> shown{{"d_loss", s.d_loss}, {"g_loss", g}};
      if (critic) shown.emplace_back("W", gap);
      else shown.insert(shown.end(), {{"D(x)", s.d_x}, {"D(G(z))", s.d_g_z}});
      if (loss == gan::Loss::wgan_gp) shown.emplace_back("gp", s.penalty);
      progress.update(++i, shown);
    }
    progress.finish();
    io::save_image(args.out / epoch_file(epoch + 1), trainer.sample(fixed_noise), grid);
    trainer.save(checkpoint, [&](io::Checkpoint& c) {
      c.counters["epoch"] = epoch + 1;
      c.metadata["loss"] = name;
    });
    io::save_module(*G, args.out / "generator.safetensors");
    losses.flush_to_disk();
    const double n = static_cast<double>(std::max<int64_t>(1, i));
    std::printf("epoch %lld: %lld D / %lld G steps; mean d_loss %.4f, g_loss %.4f, D(x)-D(G(z)) %.4f; wrote %s and "
                "the checkpoint\n",
                static_cast<long long>(epoch + 1), static_cast<long long>(i), static_cast<long long>(g_count),
                d_sum / n, g_count ? g_sum / static_cast<double>(g_count) : nan, gap_sum / n,
                epoch_file(epoch + 1).c_str());
  }
  losses.close();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!steps.empty()) {
    std::vector<std::pair<std::string, std::vector<double>>> curves{{"d_loss", d_curve}, {"g_loss", g_curve}};
    if (critic) curves.emplace_back("W estimate", gap_curve);
    io::save_loss_plot(args.out / (resume ? "losses_resumed.png" : "losses.png"), steps, curves, std::nullopt,
                       {.title = name + " on " + title + (spectral ? " (spectral norm)" : ""), .x_label = "D step"});
  }
  std::printf("done: %s on %s %s, %lld D / %lld G steps in total; this run %zu D steps in %s (%.2f D steps/s); "
              "outputs in %s\n",
              name.c_str(), title.c_str(), split.c_str(), static_cast<long long>(trainer.d_steps()),
              static_cast<long long>(trainer.g_steps()), steps.size(), io::format_duration(seconds).c_str(),
              seconds > 0 ? static_cast<double>(steps.size()) / seconds : 0.0, args.out.string().c_str());
  return 0;
}

int main(int argc, char** argv) {
  return examples::run_main("wgan", [&] { return example_main(argc, argv); });
}
