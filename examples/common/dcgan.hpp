// What the DCGAN examples (and benchmarks/core_bench) share: the weight init of the DCGAN
// recipes, R3's discriminator, and R3's generator, which dcgan_fashion and wgan train and fid rebuilds to score a generator.safetensors
// written by them or by benchmarks/peers/dcgan_fashion_peer.py (the parameter names are
// PyTorch's for the same nn.Sequential).
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

// R3's D: four blocks [Conv(in,out,3,2,1) LReLU(0.2) Dropout2d(0.25) BN(out, eps=0.8)]
// (no BN in the first), then flatten -> Linear(128*2*2, 1) -> Sigmoid. eps = 0.8 is the
// seed's quirk (BatchNorm2d(out, 0.8) sets eps, not momentum); kept to match the recipe.
inline std::shared_ptr<latent::nn::Sequential<float>> make_dcgan_discriminator() {
  using namespace latent;
  auto d = std::make_shared<nn::Sequential<float>>();
  const int64_t widths[] = {1, 16, 32, 64, 128};
  for (int b = 0; b < 4; ++b) {
    d->push_back(std::make_shared<nn::Conv2d<float>>(widths[b], widths[b + 1], 3, 2, 1));
    d->push_back(nn::LeakyReLU<float>(0.2));
    d->push_back(std::make_shared<nn::Dropout2d<float>>(0.25));
    if (b > 0) d->push_back(std::make_shared<nn::BatchNorm2d<float>>(widths[b + 1], 0.8));
  }
  d->push_back(nn::Flatten<float>());
  d->push_back(std::make_shared<nn::Linear<float>>(128 * 2 * 2, 1));
  d->push_back(nn::Sigmoid<float>());
  return d;
}

}  // namespace examples
