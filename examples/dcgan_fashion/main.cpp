// dcgan_fashion (RECIPES R3, and R4 with --spectral-norm): a DCGAN on FashionMNIST at
// 32x32. Writes to --out (default out/dcgan_fashion):
//   real.png                 a grid of real training images
//   epoch_NNN.png            G's images of one fixed noise batch after each epoch
//   losses.csv, losses.png   step,d_loss,g_loss,d_x,d_g_z and the curves
//   checkpoint.safetensors   the whole training state after each epoch (--resume)
//   generator.safetensors    G's weights alone (PyTorch state_dict names)
//
//   dcgan_fashion [--epochs 3] [--batch-size 64] [--spectral-norm] [--limit N] [--resume]
//                 [--device cpu|cuda|cuda:N]
#include <latent/data.hpp>
#include <latent/gan.hpp>
#include <latent/io.hpp>
#include <latent/nn.hpp>

#include "../common/dcgan.hpp"
#include "../common/example.hpp"
#include "../common/gan_loop.hpp"

using namespace latent;

int example_main(int argc, char** argv) {
  examples::CommonArgs args;
  args.epochs = 3;
  args.batch_size = 64;
  args.out = "out/dcgan_fashion";
  int64_t latent_dim = 100, limit = 0;
  bool spectral = false, resume = false;
  std::string device_name = "cpu";

  CLI::App app{"DCGAN on FashionMNIST at 32x32 (RECIPES R3; R4 with --spectral-norm)"};
  examples::add_common_options(app, args, "FashionMNIST directory (default: the usual places, see data/mnist.hpp)");
  app.add_option("--limit", limit, "train on the first N images only (0: all 60000)")->capture_default_str();
  app.add_flag("--spectral-norm", spectral, "spectral normalisation of D's Linear and Conv2d layers (R4)");
  app.add_flag("--resume", resume, "continue from <out>/checkpoint.safetensors");
  examples::add_device_option(app, device_name);
  CLI11_PARSE(app, argc, argv);
  examples::start("dcgan_fashion", args);
  const Device device = examples::pick_device(device_name);

  const auto [images, labels, title] = examples::load_images("fashion", "train", args.data, limit);
  // R3: 28 -> 32 bilinear, then [0, 1] -> [-1, 1]; applied once, at load.
  data::ImageDataset train(images, labels, data::Compose{data::Resize(32), data::Normalize({0.5}, {0.5})});
  data::DataLoader loader(train, {.batch_size = args.batch_size, .shuffle = true, .seed = args.seed,
                                  .pin_memory = device.is_cuda()});
  std::cout << title << ": " << train.size() << " images of 32x32, " << loader.size() << " steps per epoch\n";

  auto G = examples::make_dcgan_generator(latent_dim);
  auto D = examples::make_dcgan_discriminator();
  G->apply([](nn::Module<float>& m) { examples::dcgan_init(m); });
  D->apply([](nn::Module<float>& m) { examples::dcgan_init(m); });
  if (spectral) examples::apply_spectral_norm(*D);  // R4
  G->to(device);  // the trainer moves each batch to the models' device
  D->to(device);
  optim::AdamOptions adam;  // R3: lr 2e-4, betas (0.5, 0.999)
  adam.lr = 2e-4;
  adam.beta1 = 0.5;
  optim::Adam<float> opt_g(G->parameters(), adam), opt_d(D->parameters(), adam);

  gan::TrainerOptions options;
  options.latent_dim = latent_dim;
  options.seed = args.seed + 1;
  gan::Trainer<float> trainer(G, D, opt_g, opt_d, options);

  Generator fixed_gen(args.seed + 2);
  const auto fixed_noise = randn<float>({64, latent_dim}, fixed_gen);
  const io::GridOptions grid{.nrow = 8, .normalize = true, .value_range = {{-1.0, 1.0}}};
  io::save_image(args.out / "real.png", train.images().narrow(0, 0, std::min<int64_t>(64, train.size())), grid);

  examples::run_gan_epochs(trainer, *G, *D, loader,
                           {.name = "dcgan_fashion",
                            .title = std::string("DCGAN FashionMNIST") + (spectral ? " (spectral norm)" : ""),
                            .out = args.out, .epochs = args.epochs, .resume = resume, .grid = grid},
                           [&] { return trainer.sample(fixed_noise); });
  return 0;
}

int main(int argc, char** argv) {
  return examples::run_main("dcgan_fashion", [&] { return example_main(argc, argv); });
}
