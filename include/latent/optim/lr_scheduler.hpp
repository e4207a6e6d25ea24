// Learning-rate schedules as torch.optim.lr_scheduler, in closed form of the epoch count
// (the values PyTorch's chained updates produce): StepLR, ExponentialLR,
// CosineAnnealingLR, LinearLR (warm-up) and LambdaLR. Construction applies epoch 0;
// each step() advances one epoch and writes the new lr into every parameter group.
#pragma once
#include <functional>

#include "optimizer.hpp"

namespace latent::optim {

template <typename T = float>
class LRScheduler {
 public:
  explicit LRScheduler(OptimizerBase<T>& optimizer) : optimizer_(optimizer) {
    for (size_t g = 0; g < optimizer.num_groups(); ++g) base_lrs_.push_back(optimizer.initial_lr(g));
  }
  virtual ~LRScheduler() = default;
  void step() {
    ++last_epoch_;
    apply();
  }
  int64_t last_epoch() const { return last_epoch_; }
  std::vector<double> get_last_lr() const {
    std::vector<double> out;
    for (size_t g = 0; g < optimizer_.num_groups(); ++g) out.push_back(optimizer_.lr(g));
    return out;
  }
  // For checkpoints: the epoch counter is the whole state (base lrs come from construction).
  void set_last_epoch(int64_t epoch) {
    last_epoch_ = epoch;
    apply();
  }

 protected:
  virtual double lr_at(double base_lr, int64_t epoch) const = 0;
  void apply() {
    for (size_t g = 0; g < base_lrs_.size(); ++g) optimizer_.set_lr(g, lr_at(base_lrs_[g], last_epoch_));
  }
  OptimizerBase<T>& optimizer_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = 0;
};

template <typename T = float>
class StepLR : public LRScheduler<T> {
 public:
  StepLR(OptimizerBase<T>& opt, int64_t step_size, double gamma = 0.1)
      : LRScheduler<T>(opt), step_size_(step_size), gamma_(gamma) {
    LATENT_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
    this->apply();
  }

 protected:
  double lr_at(double base, int64_t e) const override { return base * std::pow(gamma_, static_cast<double>(e / step_size_)); }
  int64_t step_size_;
  double gamma_;
};

template <typename T = float>
class ExponentialLR : public LRScheduler<T> {
 public:
  ExponentialLR(OptimizerBase<T>& opt, double gamma) : LRScheduler<T>(opt), gamma_(gamma) { this->apply(); }

 protected:
  double lr_at(double base, int64_t e) const override { return base * std::pow(gamma_, static_cast<double>(e)); }
  double gamma_;
};

template <typename T = float>
class CosineAnnealingLR : public LRScheduler<T> {
 public:
  CosineAnnealingLR(OptimizerBase<T>& opt, int64_t t_max, double eta_min = 0)
      : LRScheduler<T>(opt), t_max_(t_max), eta_min_(eta_min) {
    LATENT_CHECK(t_max > 0, "CosineAnnealingLR: T_max must be positive, got ", t_max);
    this->apply();
  }

 protected:
  double lr_at(double base, int64_t e) const override {
    return eta_min_ + (base - eta_min_) * (1 + std::cos(M_PI * static_cast<double>(e) / t_max_)) / 2;
  }
  int64_t t_max_;
  double eta_min_;
};

// Linear warm-up: the factor goes from start_factor to end_factor over total_iters epochs.
template <typename T = float>
class LinearLR : public LRScheduler<T> {
 public:
  LinearLR(OptimizerBase<T>& opt, double start_factor = 1.0 / 3, double end_factor = 1.0, int64_t total_iters = 5)
      : LRScheduler<T>(opt), start_(start_factor), end_(end_factor), total_(total_iters) {
    LATENT_CHECK(start_factor > 0 && start_factor <= 1, "LinearLR: start_factor must be in (0, 1], got ", start_factor);
    LATENT_CHECK(end_factor >= 0 && end_factor <= 1, "LinearLR: end_factor must be in [0, 1], got ", end_factor);
    this->apply();
  }

 protected:
  double lr_at(double base, int64_t e) const override {
    double t = static_cast<double>(std::min(e, total_)) / static_cast<double>(std::max<int64_t>(total_, 1));
    return base * (start_ + (end_ - start_) * t);
  }
  double start_, end_;
  int64_t total_;
};

template <typename T = float>
class LambdaLR : public LRScheduler<T> {
 public:
  LambdaLR(OptimizerBase<T>& opt, std::function<double(int64_t)> factor) : LRScheduler<T>(opt), factor_(std::move(factor)) {
    this->apply();
  }

 protected:
  double lr_at(double base, int64_t e) const override { return base * factor_(e); }
  std::function<double(int64_t)> factor_;
};

}  // namespace latent::optim
