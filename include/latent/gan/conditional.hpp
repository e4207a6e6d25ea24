// Conditional GAN wrappers (RECIPES R7): a label embedding concatenated to G's noise and to
// D's input, as extra features for flat inputs (N, F) or as one extra image channel for
// images (N, C, H, W), where the embedding has H * W entries.
//
//   auto G = std::make_shared<gan::ConditionalGenerator<float>>(10, 10, generator_net);  // net takes 100 + 10
//   auto D = std::make_shared<gan::ConditionalDiscriminator<float>>(10, 28 * 28, critic_net);  // net takes C + 1
//   auto images = (*G)(z, labels);
#pragma once
#include <memory>

#include "../nn.hpp"

namespace latent::gan {

template <typename T = float>
class ConditionalGenerator : public nn::Module<T> {
 public:
  ConditionalGenerator(int64_t num_classes, int64_t embedding_dim, std::shared_ptr<nn::UnaryModule<T>> net)
      : nn::Module<T>("ConditionalGenerator") {
    LATENT_CHECK(net != nullptr, "ConditionalGenerator: the network is null");
    embedding = this->register_module("embedding", std::make_shared<nn::Embedding<T>>(num_classes, embedding_dim));
    this->net = this->register_module("net", std::move(net));
  }
  Tensor<T> forward(const Tensor<T>& z, const IndexTensor& labels) {
    LATENT_CHECK(z.dim() == 2, "ConditionalGenerator: noise must be (N, latent_dim), got ", z.shape());
    LATENT_CHECK(labels.dim() == 1 && labels.size(0) == z.size(0), "ConditionalGenerator: labels must be (",
                 z.size(0), "), got ", labels.shape());
    return (*net)(cat<T>({z, (*embedding)(labels)}, 1));
  }
  Tensor<T> operator()(const Tensor<T>& z, const IndexTensor& labels) { return forward(z, labels); }

  std::shared_ptr<nn::Embedding<T>> embedding;
  std::shared_ptr<nn::UnaryModule<T>> net;
};

template <typename T = float>
class ConditionalDiscriminator : public nn::Module<T> {
 public:
  ConditionalDiscriminator(int64_t num_classes, int64_t embedding_dim, std::shared_ptr<nn::UnaryModule<T>> net)
      : nn::Module<T>("ConditionalDiscriminator") {
    LATENT_CHECK(net != nullptr, "ConditionalDiscriminator: the network is null");
    embedding = this->register_module("embedding", std::make_shared<nn::Embedding<T>>(num_classes, embedding_dim));
    this->net = this->register_module("net", std::move(net));
  }
  Tensor<T> forward(const Tensor<T>& x, const IndexTensor& labels) {
    LATENT_CHECK(x.dim() == 2 || x.dim() == 4, "ConditionalDiscriminator: input must be (N, F) or (N, C, H, W), got ",
                 x.shape());
    LATENT_CHECK(labels.dim() == 1 && labels.size(0) == x.size(0), "ConditionalDiscriminator: labels must be (",
                 x.size(0), "), got ", labels.shape());
    auto e = (*embedding)(labels);
    if (x.dim() == 4) {
      const int64_t h = x.size(2), w = x.size(3);
      LATENT_CHECK(embedding->embedding_dim == h * w, "ConditionalDiscriminator: an image input (", x.shape(),
                   ") needs an embedding of H * W = ", h * w, " entries for its label channel, got ",
                   embedding->embedding_dim);
      e = e.reshape({x.size(0), 1, h, w});
    }
    return (*net)(cat<T>({x, e}, 1));
  }
  Tensor<T> operator()(const Tensor<T>& x, const IndexTensor& labels) { return forward(x, labels); }

  std::shared_ptr<nn::Embedding<T>> embedding;
  std::shared_ptr<nn::UnaryModule<T>> net;
};

}  // namespace latent::gan
