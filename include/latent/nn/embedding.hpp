// nn::Embedding: a lookup table of num_embeddings rows of embedding_dim values, as
// torch.nn.Embedding (weight ~ N(0, 1), the padding_idx row zeroed and excluded from
// gradients). indices (any shape, int64) -> indices.shape + (embedding_dim).
#pragma once
#include <optional>

#include "functional/embedding.hpp"
#include "init.hpp"
#include "module.hpp"

namespace latent::nn {

template <typename T = float>
class Embedding : public Module<T> {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx = std::nullopt,
            Device device = kCPU)
      : Module<T>("Embedding"), num_embeddings(num_embeddings), embedding_dim(embedding_dim) {
    LATENT_CHECK(num_embeddings > 0 && embedding_dim > 0, "Embedding: num_embeddings and embedding_dim must be "
                 "positive, got ", num_embeddings, " and ", embedding_dim);
    if (padding_idx) {
      LATENT_CHECK(*padding_idx >= -num_embeddings && *padding_idx < num_embeddings, "Embedding: padding_idx must "
                   "be within num_embeddings (", num_embeddings, "), got ", *padding_idx);
      this->padding_idx = *padding_idx < 0 ? *padding_idx + num_embeddings : *padding_idx;
    }
    weight = this->register_parameter("weight", empty<T>({num_embeddings, embedding_dim}, device));
    reset_parameters();
  }
  void reset_parameters() {
    init::normal_(weight);
    if (padding_idx) {
      NoGradGuard no_grad;
      weight.select(0, *padding_idx).fill_(0.0);
    }
  }
  Tensor<T> forward(const IndexTensor& indices) { return functional::embedding(indices, weight, padding_idx); }
  Tensor<T> operator()(const IndexTensor& indices) { return forward(indices); }
  std::string extra_repr() const override {
    auto s = latent::detail::str_cat(num_embeddings, ", ", embedding_dim);
    if (padding_idx) s += latent::detail::str_cat(", padding_idx=", *padding_idx);
    return s;
  }

  int64_t num_embeddings, embedding_dim;
  std::optional<int64_t> padding_idx;  // non-negative once constructed
  Tensor<T> weight;
};

}  // namespace latent::nn
