// What the DCGAN examples (and benchmarks/core_bench) share: the weight init of the DCGAN
// recipes, R3's discriminator (and wgan's variants of it), R4's spectral normalisation of
// a discriminator, and R3's generator, which dcgan_fashion and wgan train and fid rebuilds
// to score a generator.safetensors written by them or by
// benchmarks/peers/dcgan_fashion_peer.py (the parameter names are PyTorch's for the same
// nn.Sequential).
#pragma once
#include <latent/nn.hpp>

#include <memory>

namespace examples {

struct DcganInitOptions {
  bool linear = true;           // R3 draws Linear weights too; R5 and R7 leave them at their default
  double bn_weight_mean = 1.0;  // R5's notebook draws BatchNorm weights from N(0, 0.02) (0 here)
};

// DCGAN's weights_init, for Module::apply: Conv and ConvTranspose weights N(0, 0.02),
// BatchNorm weight N(bn_weight_mean, 0.02) and bias 0, Linear weights N(0, 0.02) when asked.
// Biases of Conv and Linear layers and embeddings keep their default.
inline void dcgan_init(latent::nn::Module<float>& m, DcganInitOptions o = {}) {
  using namespace latent;
  NoGradGuard no_grad;
  if (auto* conv = dynamic_cast<nn::Conv2d<float>*>(&m)) nn::init::normal_(conv->weight, 0.0, 0.02);
  if (auto* convt = dynamic_cast<nn::ConvTranspose2d<float>*>(&m)) nn::init::normal_(convt->weight, 0.0, 0.02);
  if (auto* linear = dynamic_cast<nn::Linear<float>*>(&m); linear && o.linear)
    nn::init::normal_(linear->weight, 0.0, 0.02);
  if (auto* bn = dynamic_cast<nn::BatchNorm2d<float>*>(&m)) {
    nn::init::normal_(bn->weight, o.bn_weight_mean, 0.02);
    nn::init::zeros_(bn->bias);
  }
}

// Linear(latent_dim, 128*8*8) -> (128, 8, 8) -> BN -> [ConvT(128,128,4,2,1) BN LReLU]
// -> [ConvT(128,64,4,2,1) BN LReLU] -> Conv(64,1,3,1,1) -> Tanh: noise (B, latent_dim)
// to images (B, 1, 32, 32) in [-1, 1].
inline std::shared_ptr<latent::nn::Sequential<float>> make_dcgan_generator(int64_t latent_dim) {
  using namespace latent;
  return nn::sequential<float>(
      std::make_shared<nn::Linear<float>>(latent_dim, 128 * 8 * 8), nn::Unflatten<float>(1, {128, 8, 8}),
      std::make_shared<nn::BatchNorm2d<float>>(128),
      std::make_shared<nn::ConvTranspose2d<float>>(128, 128, 4, 2, 1), std::make_shared<nn::BatchNorm2d<float>>(128),
      nn::LeakyReLU<float>(0.2),
      std::make_shared<nn::ConvTranspose2d<float>>(128, 64, 4, 2, 1), std::make_shared<nn::BatchNorm2d<float>>(64),
      nn::LeakyReLU<float>(0.2),
      std::make_shared<nn::Conv2d<float>>(64, 1, 3, 1, 1), nn::Tanh<float>());
}

// What make_dcgan_discriminator leaves out of R3's D; the defaults are R3's D itself. wgan
// drops the Sigmoid (its losses take raw scores) and, for its critic, Dropout2d and BN too.
struct DcganDiscriminatorOptions {
  bool dropout = true;     // Dropout2d(0.25) in every block
  bool batch_norm = true;  // BN(out, eps=0.8) in every block but the first
  bool sigmoid = true;     // a Sigmoid after the Linear (false: raw scores)
};

// R3's D: four blocks [Conv(in,out,3,2,1) LReLU(0.2) Dropout2d(0.25) BN(out, eps=0.8)]
// (no BN in the first) for 1 -> 16 -> 32 -> 64 -> 128, then flatten -> Linear(128*2*2, 1)
// -> Sigmoid: images (B, 1, 32, 32) to scores (B, 1). eps = 0.8 is the seed's quirk
// (BatchNorm2d(out, 0.8) sets eps, not momentum); kept to match the recipe. Layers that `o`
// leaves out are not added, so the parameter names of the rest keep their positions.
inline std::shared_ptr<latent::nn::Sequential<float>> make_dcgan_discriminator(DcganDiscriminatorOptions o = {}) {
  using namespace latent;
  auto d = std::make_shared<nn::Sequential<float>>();
  const int64_t widths[] = {1, 16, 32, 64, 128};
  for (int b = 0; b < 4; ++b) {
    d->push_back(std::make_shared<nn::Conv2d<float>>(widths[b], widths[b + 1], 3, 2, 1));
    d->push_back(nn::LeakyReLU<float>(0.2));
    if (o.dropout) d->push_back(std::make_shared<nn::Dropout2d<float>>(0.25));
    if (o.batch_norm && b > 0) d->push_back(std::make_shared<nn::BatchNorm2d<float>>(widths[b + 1], 0.8));
  }
  d->push_back(nn::Flatten<float>());
  d->push_back(std::make_shared<nn::Linear<float>>(128 * 2 * 2, 1));
  if (o.sigmoid) d->push_back(nn::Sigmoid<float>());
  return d;
}

// RECIPES R4: spectral normalisation (nn::utils::spectral_norm) of every Conv2d and Linear
// held directly by `d`, as dcgan_fashion and wgan apply to their D with --spectral-norm.
// Other layers, and modules nested inside a layer of `d`, are left as they are (the DCGAN
// discriminators here are flat). Call it after the weight init (weight_orig starts as the
// weight then is) and before building D's optimizer (weight_orig replaces each weight among
// the parameters); u and v are drawn from the default generator.
inline void apply_spectral_norm(latent::nn::Sequential<float>& d) {
  using namespace latent;
  for (size_t i = 0; i < d.size(); ++i) {
    if (auto conv = d.get<nn::Conv2d<float>>(i)) nn::utils::spectral_norm(conv);
    if (auto linear = d.get<nn::Linear<float>>(i)) nn::utils::spectral_norm(linear);
  }
}

}  // namespace examples
