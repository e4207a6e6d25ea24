// Loss modules as torch.nn: BCELoss, BCEWithLogitsLoss, MSELoss, L1Loss, SmoothL1Loss,
// HuberLoss, CrossEntropyLoss, NLLLoss, KLDivLoss. Each holds its options, validated at
// construction (PyTorch only notices a bad reduction at the first call), and calls the
// functional loss (nn/functional/loss.hpp) in forward(input, target). Class and positive
// weights are buffers, as in PyTorch: they follow to(device) and appear in state_dict.
//
//   auto criterion = std::make_shared<nn::CrossEntropyLoss<float>>(class_weights);
//   auto loss = (*criterion)(logits, labels);
#pragma once
#include "functional/loss.hpp"
#include "module.hpp"

namespace latent::nn {

// Base of the loss modules: the reduction ("none", "mean" or "sum"; KLDivLoss also
// "batchmean"). Losses take two arguments, so they are not UnaryModules.
template <typename T = float>
class Loss : public Module<T> {
 public:
  Loss(const std::string& type_name, std::string reduction, bool batchmean_ok = false)
      : Module<T>(type_name), reduction(std::move(reduction)) {
    functional::loss_detail::parse_reduction(this->type_name().c_str(), this->reduction, batchmean_ok);
  }
  std::string reduction;
};

template <typename T = float>
class BCELoss : public Loss<T> {
 public:
  explicit BCELoss(Tensor<T> weight = {}, std::string reduction = "mean") : Loss<T>("BCELoss", std::move(reduction)) {
    this->weight = this->register_buffer("weight", weight);
  }
  Tensor<T> forward(const Tensor<T>& input, const Tensor<T>& target) {
    return functional::binary_cross_entropy(input, target, weight, this->reduction);
  }
  Tensor<T> operator()(const Tensor<T>& input, const Tensor<T>& target) { return forward(input, target); }
  Tensor<T> weight;
};

template <typename T = float>
class BCEWithLogitsLoss : public Loss<T> {
 public:
  explicit BCEWithLogitsLoss(Tensor<T> weight = {}, std::string reduction = "mean", Tensor<T> pos_weight = {})
      : Loss<T>("BCEWithLogitsLoss", std::move(reduction)) {
    this->weight = this->register_buffer("weight", weight);
    this->pos_weight = this->register_buffer("pos_weight", pos_weight);
  }
  Tensor<T> forward(const Tensor<T>& input, const Tensor<T>& target) {
    return functional::binary_cross_entropy_with_logits(input, target, weight, this->reduction, pos_weight);
  }
  Tensor<T> operator()(const Tensor<T>& input, const Tensor<T>& target) { return forward(input, target); }
  Tensor<T> weight, pos_weight;
};

template <typename T = float>
class MSELoss : public Loss<T> {
 public:
  explicit MSELoss(std::string reduction = "mean") : Loss<T>("MSELoss", std::move(reduction)) {}
  Tensor<T> forward(const Tensor<T>& input, const Tensor<T>& target) {
    return functional::mse_loss(input, target, this->reduction);
  }
  Tensor<T> operator()(const Tensor<T>& input, const Tensor<T>& target) { return forward(input, target); }
};

template <typename T = float>
class L1Loss : public Loss<T> {
 public:
  explicit L1Loss(std::string reduction = "mean") : Loss<T>("L1Loss", std::move(reduction)) {}
  Tensor<T> forward(const Tensor<T>& input, const Tensor<T>& target) {
    return functional::l1_loss(input, target, this->reduction);
  }
  Tensor<T> operator()(const Tensor<T>& input, const Tensor<T>& target) { return forward(input, target); }
};

template <typename T = float>
class SmoothL1Loss : public Loss<T> {
 public:
  explicit SmoothL1Loss(std::string reduction = "mean", double beta = 1.0)
      : Loss<T>("SmoothL1Loss", std::move(reduction)), beta(beta) {
    LATENT_CHECK(beta >= 0, "SmoothL1Loss: beta must be non-negative, got ", beta);
  }
  Tensor<T> forward(const Tensor<T>& input, const Tensor<T>& target) {
    return functional::smooth_l1_loss(input, target, this->reduction, beta);
  }
  Tensor<T> operator()(const Tensor<T>& input, const Tensor<T>& target) { return forward(input, target); }
  double beta;
};

template <typename T = float>
class HuberLoss : public Loss<T> {
 public:
  explicit HuberLoss(std::string reduction = "mean", double delta = 1.0)
      : Loss<T>("HuberLoss", std::move(reduction)), delta(delta) {
    LATENT_CHECK(delta > 0, "HuberLoss: delta must be positive, got ", delta);
  }
  Tensor<T> forward(const Tensor<T>& input, const Tensor<T>& target) {
    return functional::huber_loss(input, target, this->reduction, delta);
  }
  Tensor<T> operator()(const Tensor<T>& input, const Tensor<T>& target) { return forward(input, target); }
  double delta;
};

// Targets are class indices (an IndexTensor) or class probabilities (a Tensor<T> shaped
// like the input), as PyTorch tells them apart by dtype.
template <typename T = float>
class CrossEntropyLoss : public Loss<T> {
 public:
  explicit CrossEntropyLoss(Tensor<T> weight = {}, int64_t ignore_index = -100, std::string reduction = "mean",
                            double label_smoothing = 0.0)
      : Loss<T>("CrossEntropyLoss", std::move(reduction)), ignore_index(ignore_index), label_smoothing(label_smoothing) {
    LATENT_CHECK(label_smoothing >= 0 && label_smoothing <= 1,
                 "CrossEntropyLoss: label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
    this->weight = this->register_buffer("weight", weight);
  }
  Tensor<T> forward(const Tensor<T>& input, const IndexTensor& target) {
    return functional::cross_entropy(input, target, weight, ignore_index, this->reduction, label_smoothing);
  }
  Tensor<T> forward(const Tensor<T>& input, const Tensor<T>& target) {
    return functional::cross_entropy(input, target, weight, ignore_index, this->reduction, label_smoothing);
  }
  Tensor<T> operator()(const Tensor<T>& input, const IndexTensor& target) { return forward(input, target); }
  Tensor<T> operator()(const Tensor<T>& input, const Tensor<T>& target) { return forward(input, target); }
  Tensor<T> weight;
  int64_t ignore_index;
  double label_smoothing;
};

template <typename T = float>
class NLLLoss : public Loss<T> {
 public:
  explicit NLLLoss(Tensor<T> weight = {}, int64_t ignore_index = -100, std::string reduction = "mean")
      : Loss<T>("NLLLoss", std::move(reduction)), ignore_index(ignore_index) {
    this->weight = this->register_buffer("weight", weight);
  }
  Tensor<T> forward(const Tensor<T>& input, const IndexTensor& target) {
    return functional::nll_loss(input, target, weight, ignore_index, this->reduction);
  }
  Tensor<T> operator()(const Tensor<T>& input, const IndexTensor& target) { return forward(input, target); }
  Tensor<T> weight;
  int64_t ignore_index;
};

template <typename T = float>
class KLDivLoss : public Loss<T> {
 public:
  explicit KLDivLoss(std::string reduction = "mean", bool log_target = false)
      : Loss<T>("KLDivLoss", std::move(reduction), true), log_target(log_target) {}
  Tensor<T> forward(const Tensor<T>& input, const Tensor<T>& target) {
    return functional::kl_div(input, target, this->reduction, log_target);
  }
  Tensor<T> operator()(const Tensor<T>& input, const Tensor<T>& target) { return forward(input, target); }
  bool log_target;
};

}  // namespace latent::nn
