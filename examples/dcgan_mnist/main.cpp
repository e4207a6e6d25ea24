// dcgan_mnist (RECIPES R5): the Radford et al. DCGAN on MNIST at 64x64, as in the course
// material; --small is the same family at 32x32 with a quarter of the channels, for a CPU
// (one thread, batch 100: ~2 steps/s, against ~0.05 at R5's size; an eighth of the
// channels, --width 16, ran 5 steps/s but D won outright within 100 steps on two seeds).
// Writes to --out (default out/dcgan_mnist):
//   real.png                 a grid of real training images
//   epoch_NNN.png            G's images of one fixed batch of 16 noise vectors (4x4) after each epoch
//   losses.csv, losses.png   step,d_loss,g_loss,d_x,d_g_z and the curves (losses_resumed.* after --resume)
//   checkpoint.safetensors   the whole training state after each epoch (--resume)
//   generator.safetensors    G's weights alone
//
//   dcgan_mnist [--epochs 5] [--batch-size 100] [--small] [--width W] [--split train|test] [--limit N] [--resume]
#include <latent/data.hpp>
#include <latent/gan.hpp>
#include <latent/io.hpp>
#include <latent/nn.hpp>

#include "../common/dcgan.hpp"
#include "../common/example.hpp"
#include "../common/gan_loop.hpp"

using namespace latent;
using Net = std::shared_ptr<nn::Sequential<float>>;

namespace {

// The R5 layout for images of size x size (a multiple of 16) with base width w: R5 itself
// is size 64, w 128 (D 1->128->256->512->1024, 4x4 at the end); --small is size 32, w 32.
struct Layout {
  int64_t size, w;
  int64_t s() const { return size / 16; }  // the spatial size after four stride-2 convs
};

// D: Conv(1,w,4,2,1,no bias) LReLU(0.2); then three [Conv(c,2c,4,2,1,no bias) BN LReLU(0.2)];
// flatten -> Linear(8w*s*s, 1) -> Sigmoid.
Net make_discriminator(const Layout& a) {
  auto d = std::make_shared<nn::Sequential<float>>();
  const nn::Conv2dOptions down{.stride = 2, .padding = 1, .bias = false};
  d->push_back(std::make_shared<nn::Conv2d<float>>(1, a.w, 4, down));
  d->push_back(nn::LeakyReLU<float>(0.2));
  for (int64_t c = a.w; c < 8 * a.w; c *= 2) {
    d->push_back(std::make_shared<nn::Conv2d<float>>(c, 2 * c, 4, down));
    d->push_back(std::make_shared<nn::BatchNorm2d<float>>(2 * c));
    d->push_back(nn::LeakyReLU<float>(0.2));
  }
  d->push_back(nn::Flatten<float>());
  d->push_back(std::make_shared<nn::Linear<float>>(8 * a.w * a.s() * a.s(), 1));
  d->push_back(nn::Sigmoid<float>());
  return d;
}

// G: Linear(latent, 8w*s*s) -> (8w, s, s) -> three [ConvT(c,c/2,4,2,1,no bias) BN ReLU]
// -> ConvT(w,1,4,2,1,no bias) -> Tanh: noise (B, latent) to images (B, 1, size, size).
Net make_generator(const Layout& a, int64_t latent_dim) {
  auto g = std::make_shared<nn::Sequential<float>>();
  const nn::ConvTranspose2dOptions up{.stride = 2, .padding = 1, .bias = false};
  g->push_back(std::make_shared<nn::Linear<float>>(latent_dim, 8 * a.w * a.s() * a.s()));
  g->push_back(nn::Unflatten<float>(1, {8 * a.w, a.s(), a.s()}));
  for (int64_t c = 8 * a.w; c > a.w; c /= 2) {
    g->push_back(std::make_shared<nn::ConvTranspose2d<float>>(c, c / 2, 4, up));
    g->push_back(std::make_shared<nn::BatchNorm2d<float>>(c / 2));
    g->push_back(nn::ReLU<float>());
  }
  g->push_back(std::make_shared<nn::ConvTranspose2d<float>>(a.w, 1, 4, up));
  g->push_back(nn::Tanh<float>());
  return g;
}


}  // namespace

int example_main(int argc, char** argv) {
  examples::CommonArgs args;
  args.epochs = 5;
  args.batch_size = 100;
  args.out = "out/dcgan_mnist";
  int64_t latent_dim = 100, limit = 0, width = 0;
  std::string split = "train";
  bool small = false, seed_init = false, resume = false;

  CLI::App app{"DCGAN on MNIST at 64x64 (RECIPES R5); --small: 32x32 with 1/4 of the channels"};
  examples::add_common_options(app, args, "MNIST directory (default: the usual places, see data/mnist.hpp)");
  app.add_option("--split", split, "split to train on (train: see scripts/download_mnist.sh)")
      ->check(CLI::IsMember({"train", "test"}))->capture_default_str();
  app.add_option("--limit", limit, "train on the first N images only (0: all)")->capture_default_str();
  app.add_flag("--small", small, "32x32 images, D 1->32->64->128->256, G 256->128->64->32->1 (R5: 64x64, 128..1024)");
  app.add_option("--width", width, "base width w: D 1->w->2w->4w->8w, G 8w->4w->2w->w->1 (0: 128, or 32 with --small)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_flag("--seed-init", seed_init, "the seed's init quirk: BatchNorm weights N(0, 0.02) instead of N(1, 0.02)");
  app.add_flag("--resume", resume, "continue from <out>/checkpoint.safetensors");
  CLI11_PARSE(app, argc, argv);
  examples::start("dcgan_mnist", args);
  const Layout shape{small ? 32 : 64, width > 0 ? width : small ? 32 : 128};

  const auto [images, labels, title] = examples::load_images("mnist", split, args.data, limit);
  // R5: Resize(64) (bilinear), then [0, 1] -> [-1, 1]; applied once, at load.
  data::ImageDataset train(images, labels,
                           data::Compose{data::Resize(shape.size), data::Normalize({0.5}, {0.5})});
  data::DataLoader loader(train, {.batch_size = args.batch_size, .shuffle = true, .seed = args.seed});
  std::cout << title << " " << split << ": " << train.size() << " images of " << shape.size << "x" << shape.size << ", "
            << loader.size() << " steps per epoch\n";

  auto G = make_generator(shape, latent_dim);
  auto D = make_discriminator(shape);
  // Linear layers keep their default init (R5). NOTE: the seed's init_weights draws
  // BatchNorm weights from N(0, 0.02) too, which nearly zeroes every BN output at the
  // start; --seed-init reproduces it.
  const examples::DcganInitOptions init{.linear = false, .bn_weight_mean = seed_init ? 0.0 : 1.0};
  G->apply([&](nn::Module<float>& m) { examples::dcgan_init(m, init); });
  D->apply([&](nn::Module<float>& m) { examples::dcgan_init(m, init); });
  optim::AdamOptions adam;  // R5: lr 2e-4, betas (0.5, 0.999)
  adam.lr = 2e-4;
  adam.beta1 = 0.5;
  optim::Adam<float> opt_g(G->parameters(), adam), opt_d(D->parameters(), adam);

  gan::TrainerOptions options;  // BCE, non-saturating G loss, fake batch detached for D
  options.latent_dim = latent_dim;
  options.seed = args.seed + 1;
  gan::Trainer<float> trainer(G, D, opt_g, opt_d, options);

  // R5: a fixed batch of 16 noise vectors, rendered after every epoch.
  Generator fixed_gen(args.seed + 2);
  const auto fixed_noise = randn<float>({16, latent_dim}, fixed_gen);
  const io::GridOptions grid{.nrow = 4, .normalize = true, .value_range = {{-1.0, 1.0}}};
  io::save_image(args.out / "real.png", train.images().narrow(0, 0, std::min<int64_t>(16, train.size())), grid);

  const std::string size = std::to_string(shape.size);
  examples::run_gan_epochs(trainer, *G, *D, loader,
                           {.name = "dcgan_mnist", .title = "DCGAN MNIST " + size + "x" + size, .out = args.out,
                            .epochs = args.epochs, .resume = resume, .grid = grid},
                           [&] { return trainer.sample(fixed_noise); });
  return 0;
}

int main(int argc, char** argv) {
  return examples::run_main("dcgan_mnist", [&] { return example_main(argc, argv); });
}
