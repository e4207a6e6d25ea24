// cgan_mnist (RECIPES R7): a conditional DCGAN on MNIST at 32x32. The label enters G as an
// embedding concatenated to the noise, and D as an embedding of 32*32 entries stacked onto
// the image as a second channel. The networks are dcgan_mnist --small's (R5's family at
// 32x32, a quarter of its channels) with those extra inputs.
// Writes to --out (default out/cgan_mnist):
//   real.png                 real training images, one row per digit 0..9, 8 columns
//   epoch_NNN.png            G's images after each epoch: row d is digit d, column j uses
//                            fixed noise vector j in every row (style across, class down)
//   losses.csv, losses.png   step,d_loss,g_loss,d_x,d_g_z and the curves (losses_resumed.* after --resume)
//   checkpoint.safetensors   the whole training state after each epoch (--resume)
//   generator.safetensors    G's weights alone (embedding.weight, net.*)
//
//   cgan_mnist [--epochs 5] [--batch-size 64] [--embedding-dim 10] [--split train|test] [--limit N] [--resume]
#include <latent/data.hpp>
#include <latent/gan.hpp>
#include <latent/io.hpp>
#include <latent/nn.hpp>

#include "../common/dcgan.hpp"
#include "../common/example.hpp"
#include "../common/gan_loop.hpp"

using namespace latent;

namespace {

constexpr int64_t kClasses = 10, kSize = 32, kWidth = 32;
using Net = std::shared_ptr<nn::Sequential<float>>;

// D's net on [image, label channel] (N, 2, 32, 32): Conv(2,w,4,2,1,no bias) LReLU(0.2); three
// [Conv(c,2c,4,2,1,no bias) BN LReLU(0.2)]; flatten -> Linear(8w*2*2, 1) -> Sigmoid.
// NOTE: R3's D (3x3 convs, Dropout2d, BN(eps=0.8) after the activation) was tried first:
// with R3's G it sat at D(x) = D(G(z)) = 0.5 for all 471 steps of 3 test-split epochs and
// drew blobs (dcgan_fashion and its PyTorch peer also sit there for ~1000 steps); this pair
// draws digits, one per row, within 300 steps.
Net make_discriminator_net() {
  auto d = std::make_shared<nn::Sequential<float>>();
  const nn::Conv2dOptions down{.stride = 2, .padding = 1, .bias = false};
  d->push_back(std::make_shared<nn::Conv2d<float>>(2, kWidth, 4, down));
  d->push_back(nn::LeakyReLU<float>(0.2));
  for (int64_t c = kWidth; c < 8 * kWidth; c *= 2) {
    d->push_back(std::make_shared<nn::Conv2d<float>>(c, 2 * c, 4, down));
    d->push_back(std::make_shared<nn::BatchNorm2d<float>>(2 * c));
    d->push_back(nn::LeakyReLU<float>(0.2));
  }
  d->push_back(nn::Flatten<float>());
  d->push_back(std::make_shared<nn::Linear<float>>(8 * kWidth * 2 * 2, 1));
  d->push_back(nn::Sigmoid<float>());
  return d;
}

// G's net on [z, label embedding] (N, in): Linear(in, 8w*2*2) -> (8w, 2, 2) -> three
// [ConvT(c,c/2,4,2,1,no bias) BN ReLU] -> ConvT(w,1,4,2,1,no bias) -> Tanh: (N, 1, 32, 32).
Net make_generator_net(int64_t in) {
  auto g = std::make_shared<nn::Sequential<float>>();
  const nn::ConvTranspose2dOptions up{.stride = 2, .padding = 1, .bias = false};
  g->push_back(std::make_shared<nn::Linear<float>>(in, 8 * kWidth * 2 * 2));
  g->push_back(nn::Unflatten<float>(1, {8 * kWidth, 2, 2}));
  for (int64_t c = 8 * kWidth; c > kWidth; c /= 2) {
    g->push_back(std::make_shared<nn::ConvTranspose2d<float>>(c, c / 2, 4, up));
    g->push_back(std::make_shared<nn::BatchNorm2d<float>>(c / 2));
    g->push_back(nn::ReLU<float>());
  }
  g->push_back(std::make_shared<nn::ConvTranspose2d<float>>(kWidth, 1, 4, up));
  g->push_back(nn::Tanh<float>());
  return g;
}

// The first `per_class` images of each digit, digit by digit: (10 * per_class, 1, H, W).
TensorF images_by_class(const TensorF& images, const IndexTensor& labels, int64_t per_class) {
  auto y = labels.contiguous().to_vector();
  std::vector<int64_t> rows;
  for (int64_t c = 0; c < kClasses; ++c) {
    int64_t taken = 0;
    for (size_t i = 0; i < y.size() && taken < per_class; ++i)
      if (y[i] == c) rows.push_back(static_cast<int64_t>(i)), ++taken;
  }
  return index_select(images, 0, from_vector<int64_t>(rows));
}

}  // namespace

int example_main(int argc, char** argv) {
  examples::CommonArgs args;
  args.epochs = 5;
  args.batch_size = 64;
  args.out = "out/cgan_mnist";
  int64_t latent_dim = 100, embedding_dim = 10, limit = 0;
  std::string split = "train";
  bool resume = false;

  CLI::App app{"Conditional DCGAN on MNIST at 32x32 (RECIPES R7)"};
  examples::add_common_options(app, args, "MNIST directory (default: the usual places, see data/mnist.hpp)");
  app.add_option("--split", split, "split to train on (train: see scripts/download_mnist.sh)")
      ->check(CLI::IsMember({"train", "test"}))->capture_default_str();
  app.add_option("--limit", limit, "train on the first N images only (0: all)")->capture_default_str();
  app.add_option("--embedding-dim", embedding_dim, "size of G's label embedding (the material: 128)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_flag("--resume", resume, "continue from <out>/checkpoint.safetensors");
  CLI11_PARSE(app, argc, argv);
  examples::start("cgan_mnist", args);

  const auto [images, labels, title] = examples::load_images("mnist", split, args.data, limit);
  // 28 -> 32 bilinear, then [0, 1] -> [-1, 1]; applied once, at load.
  data::ImageDataset train(images, labels, data::Compose{data::Resize(kSize), data::Normalize({0.5}, {0.5})});
  data::DataLoader loader(train, {.batch_size = args.batch_size, .shuffle = true, .seed = args.seed});
  std::cout << title << " " << split << ": " << train.size() << " labelled images of 32x32, " << loader.size()
            << " steps per epoch\n";

  // G: [z, Embedding(10, embedding_dim)(y)] -> G's net; D: [x, Embedding(10, 32*32)(y) as a
  // 32x32 channel] -> D's net.
  // NOTE: with the material's Embedding(10, 128) G ignored its noise (every column of a row
  // the same digit after 300 steps: std across columns 0.009, against 0.15 with 10); the
  // lecture's advice is to keep the embedding small.
  auto G = std::make_shared<gan::ConditionalGenerator<float>>(kClasses, embedding_dim,
                                                              make_generator_net(latent_dim + embedding_dim));
  auto D = std::make_shared<gan::ConditionalDiscriminator<float>>(kClasses, kSize * kSize, make_discriminator_net());
  // R7 leaves Linear layers (and the label embeddings, N(0, 1)) at their default init.
  G->apply([](nn::Module<float>& m) { examples::dcgan_init(m, {.linear = false}); });
  D->apply([](nn::Module<float>& m) { examples::dcgan_init(m, {.linear = false}); });
  optim::AdamOptions adam;  // DCGAN's: lr 2e-4, betas (0.5, 0.999)
  adam.lr = 2e-4;
  adam.beta1 = 0.5;
  optim::Adam<float> opt_g(G->parameters(), adam), opt_d(D->parameters(), adam);

  gan::TrainerOptions options;  // BCE, non-saturating G loss; fake labels uniform over 0..9
  options.latent_dim = latent_dim;
  options.num_classes = kClasses;
  options.seed = args.seed + 1;
  gan::Trainer<float> trainer(G, D, opt_g, opt_d, options);

  // The fixed grid: 8 noise vectors, each drawn once per digit; row d is digit d.
  constexpr int64_t kColumns = 8;
  Generator fixed_gen(args.seed + 2);
  const auto noise8 = randn<float>({kColumns, latent_dim}, fixed_gen);
  const auto fixed_noise = cat<float>(std::vector<TensorF>(kClasses, noise8), 0);  // (80, latent_dim)
  std::vector<int64_t> row_labels;
  for (int64_t d = 0; d < kClasses; ++d) row_labels.insert(row_labels.end(), kColumns, d);
  const auto fixed_labels = from_vector<int64_t>(row_labels);
  const io::GridOptions grid{.nrow = kColumns, .normalize = true, .value_range = {{-1.0, 1.0}}};
  io::save_image(args.out / "real.png", images_by_class(train.images(), train.labels(), kColumns), grid);

  examples::run_gan_epochs(trainer, *G, *D, loader,
                           {.name = "cgan_mnist", .title = "Conditional DCGAN MNIST", .out = args.out,
                            .epochs = args.epochs, .resume = resume, .conditional = true, .grid = grid},
                           [&] { return trainer.sample(fixed_noise, fixed_labels); });
  return 0;
}

int main(int argc, char** argv) {
  return examples::run_main("cgan_mnist", [&] { return example_main(argc, argv); });
}
