// R3's DCGAN generator, shared by dcgan_fashion (which trains it) and fid (which scores a
// generator.safetensors written by dcgan_fashion or by benchmarks/peers/dcgan_fashion_peer.py;
// the parameter names are PyTorch's for the same nn.Sequential).
#pragma once
#include <latent/nn.hpp>

#include <memory>

namespace examples {

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

}  // namespace examples
