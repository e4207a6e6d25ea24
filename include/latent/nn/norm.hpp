// Normalisation layers, as torch.nn: BatchNorm1d, BatchNorm2d, InstanceNorm2d, GroupNorm,
// LayerNorm, thin modules over nn/functional/norm.hpp with PyTorch's arguments, defaults
// (eps 1e-5, momentum 0.1, weight ones, bias zeros), state_dict names and reprs.
//
// Buffers: running_mean (zeros), running_var (ones) and num_batches_tracked. PyTorch keeps
// num_batches_tracked as an int64 scalar; modules here hold only T buffers, so it is a
// 0-dim T (exact up to 2^24 batches in float), and checkpoints carry it as T.
#pragma once
#include <optional>
#include <string>

#include "dropout.hpp"
#include "functional/norm.hpp"
#include "init.hpp"
#include "module.hpp"

namespace latent::nn {

// PyTorch's _NormBase: the parameters and buffers shared by batch and instance norm.
template <typename T = float>
class NormBase : public UnaryModule<T> {
 public:
  NormBase(const char* name, int64_t num_features, double eps, std::optional<double> momentum, bool affine,
           bool track_running_stats, Device device)
      : UnaryModule<T>(name), num_features(num_features), eps(eps), momentum(momentum), affine(affine),
        track_running_stats(track_running_stats) {
    LATENT_CHECK(num_features > 0, name, ": num_features must be positive, got ", num_features);
    if (affine) {
      weight = this->register_parameter("weight", empty<T>({num_features}, device));
      bias = this->register_parameter("bias", empty<T>({num_features}, device));
    }
    if (track_running_stats) {
      running_mean = this->register_buffer("running_mean", zeros<T>({num_features}, device));
      running_var = this->register_buffer("running_var", ones<T>({num_features}, device));
      num_batches_tracked = this->register_buffer("num_batches_tracked", zeros<T>(Shape{}, device));
    }
    reset_parameters();
  }
  void reset_running_stats() {
    if (!track_running_stats) return;
    NoGradGuard no_grad;
    running_mean.zero_();
    running_var.fill_(1.0);
    num_batches_tracked.zero_();
  }
  void reset_parameters() {
    reset_running_stats();
    if (affine) {
      init::ones_(weight);
      init::zeros_(bias);
    }
  }
  std::string extra_repr() const override {
    return latent::detail::str_cat(num_features, ", eps=", detail::py_float(eps), ", momentum=",
                                   momentum ? detail::py_float(*momentum) : std::string("None"),
                                   ", affine=", detail::py_bool(affine),
                                   ", track_running_stats=", detail::py_bool(track_running_stats));
  }

  int64_t num_features;
  double eps;
  std::optional<double> momentum;  // nullopt: cumulative average (PyTorch's momentum=None)
  bool affine, track_running_stats;
  Tensor<T> weight, bias, running_mean, running_var, num_batches_tracked;
};

// PyTorch's _BatchNorm.forward: batch statistics in training (or when no running stats are
// tracked), running statistics in eval; each training step counts num_batches_tracked.
template <typename T = float>
class BatchNormBase : public NormBase<T> {
 public:
  using NormBase<T>::NormBase;
  Tensor<T> forward(const Tensor<T>& x) override {
    check_input_dim(x);
    const bool training = this->is_training();
    double factor = this->momentum.value_or(0.0);
    if (training && this->track_running_stats) {
      NoGradGuard no_grad;
      this->num_batches_tracked.add_(1.0);
      if (!this->momentum) factor = 1.0 / static_cast<double>(this->num_batches_tracked.item());
    }
    const bool use_batch_stats = training || !this->running_mean.defined();
    const bool pass_running = !training || this->track_running_stats;
    return functional::batch_norm(x, pass_running ? this->running_mean : Tensor<T>(),
                                  pass_running ? this->running_var : Tensor<T>(), this->weight, this->bias,
                                  use_batch_stats, factor, this->eps);
  }

 protected:
  virtual void check_input_dim(const Tensor<T>& x) const = 0;
};

// x: (N, C) or (N, C, L), statistics per C.
template <typename T = float>
class BatchNorm1d : public BatchNormBase<T> {
 public:
  explicit BatchNorm1d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true, Device device = kCPU)
      : BatchNormBase<T>("BatchNorm1d", num_features, eps, momentum, affine, track_running_stats, device) {}

 protected:
  void check_input_dim(const Tensor<T>& x) const override {
    LATENT_CHECK(x.dim() == 2 || x.dim() == 3, "BatchNorm1d: expected 2D or 3D input (got ", x.dim(),
                 "D input of shape ", x.shape(), ")");
  }
};

// x: (N, C, H, W), statistics per C.
template <typename T = float>
class BatchNorm2d : public BatchNormBase<T> {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true, Device device = kCPU)
      : BatchNormBase<T>("BatchNorm2d", num_features, eps, momentum, affine, track_running_stats, device) {}

 protected:
  void check_input_dim(const Tensor<T>& x) const override {
    LATENT_CHECK(x.dim() == 4, "BatchNorm2d: expected 4D input (got ", x.dim(), "D input of shape ", x.shape(), ")");
  }
};

// x: (N, C, H, W) or unbatched (C, H, W); each (n, c) plane by its own statistics unless
// track_running_stats and eval mode. Defaults as PyTorch: affine=false,
// track_running_stats=false.
template <typename T = float>
class InstanceNorm2d : public NormBase<T> {
 public:
  explicit InstanceNorm2d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                          bool affine = false, bool track_running_stats = false, Device device = kCPU)
      : NormBase<T>("InstanceNorm2d", num_features, eps, momentum, affine, track_running_stats, device) {}
  Tensor<T> forward(const Tensor<T>& x) override {
    LATENT_CHECK(x.dim() == 3 || x.dim() == 4, "InstanceNorm2d: expected 3D or 4D input (got ", x.dim(),
                 "D input of shape ", x.shape(), ")");
    const int feature_dim = x.dim() - 3;
    LATENT_CHECK(!this->affine || x.shape()[feature_dim] == this->num_features, "InstanceNorm2d: expected input's "
                 "size at dim=", feature_dim, " to match num_features (", this->num_features, "), but got: ",
                 x.shape()[feature_dim], " (input shape ", x.shape(), ")");
    if (x.dim() == 3) return apply(x.unsqueeze(0)).squeeze(0);
    return apply(x);
  }

 private:
  Tensor<T> apply(const Tensor<T>& x) {
    return functional::instance_norm(x, this->running_mean, this->running_var, this->weight, this->bias,
                                     this->is_training() || !this->track_running_stats,
                                     this->momentum.value_or(0.0), this->eps);
  }
};

// x: (N, C, *), channels in num_groups groups, per-channel weight and bias (C).
template <typename T = float>
class GroupNorm : public UnaryModule<T> {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true, Device device = kCPU)
      : UnaryModule<T>("GroupNorm"), num_groups(num_groups), num_channels(num_channels), eps(eps), affine(affine) {
    LATENT_CHECK(num_groups > 0 && num_channels > 0, "GroupNorm: num_groups and num_channels must be positive, got ",
                 num_groups, " and ", num_channels);
    LATENT_CHECK(num_channels % num_groups == 0, "GroupNorm: num_channels (", num_channels,
                 ") must be divisible by num_groups (", num_groups, ")");
    if (affine) {
      weight = this->register_parameter("weight", empty<T>({num_channels}, device));
      bias = this->register_parameter("bias", empty<T>({num_channels}, device));
    }
    reset_parameters();
  }
  void reset_parameters() {
    if (!affine) return;
    init::ones_(weight);
    init::zeros_(bias);
  }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::group_norm(x, num_groups, weight, bias, eps); }
  std::string extra_repr() const override {
    return latent::detail::str_cat(num_groups, ", ", num_channels, ", eps=", detail::py_float(eps),
                                   ", affine=", detail::py_bool(affine));
  }

  int64_t num_groups, num_channels;
  double eps;
  bool affine;
  Tensor<T> weight, bias;
};

// x: (*, normalized_shape), each trailing block normalised; weight and bias of
// normalized_shape (bias=false keeps only the weight, as PyTorch).
template <typename T = float>
class LayerNorm : public UnaryModule<T> {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true, bool bias = true,
                     Device device = kCPU)
      : UnaryModule<T>("LayerNorm"), normalized_shape(std::move(normalized_shape)), eps(eps),
        elementwise_affine(elementwise_affine) {
    LATENT_CHECK(this->normalized_shape.rank() > 0, "LayerNorm: normalized_shape must name at least one dim");
    for (int64_t d : this->normalized_shape)
      LATENT_CHECK(d > 0, "LayerNorm: normalized_shape must be positive, got ", this->normalized_shape);
    if (elementwise_affine) {
      weight = this->register_parameter("weight", empty<T>(this->normalized_shape, device));
      if (bias) this->bias = this->register_parameter("bias", empty<T>(this->normalized_shape, device));
    }
    reset_parameters();
  }
  // LayerNorm(10) as PyTorch's LayerNorm(10). One argument only: with more, {3, 4} could
  // also read as (normalized_size 3, eps 4); write LayerNorm({10}, eps, ...) instead.
  explicit LayerNorm(int64_t normalized_size) : LayerNorm(Shape{normalized_size}) {}
  void reset_parameters() {
    if (weight.defined()) init::ones_(weight);
    if (bias.defined()) init::zeros_(bias);
  }
  Tensor<T> forward(const Tensor<T>& x) override {
    return functional::layer_norm(x, normalized_shape, weight, bias, eps);
  }
  std::string extra_repr() const override {
    std::string dims = "(";
    for (int i = 0; i < normalized_shape.rank(); ++i)
      dims += latent::detail::str_cat(i ? ", " : "", normalized_shape[i]);
    dims += normalized_shape.rank() == 1 ? ",)" : ")";
    return latent::detail::str_cat(dims, ", eps=", detail::py_float(eps),
                                   ", elementwise_affine=", detail::py_bool(elementwise_affine));
  }

  Shape normalized_shape;
  double eps;
  bool elementwise_affine;
  Tensor<T> weight, bias;
};

}  // namespace latent::nn
