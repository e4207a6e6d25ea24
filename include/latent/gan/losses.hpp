// Adversarial losses as one family (RECIPES R6): minimax, non-saturating, LSGAN, WGAN,
// WGAN-GP and hinge, each split into the three terms a GAN step backpropagates:
//
//   gan::AdversarialLoss loss{gan::parse_loss("wgan-gp")};
//   auto d_real = loss.discriminator_real(D(real));   // backward, then
//   auto d_fake = loss.discriminator_fake(D(fake));   // backward, then D's step
//   auto g      = loss.generator(D(G(z)));            // backward, then G's step
//
// Every term is a mean over the batch. The D step's gradient is that of real + fake, as in
// the recipes' two backward calls; `discriminator_log` gives the figure the recipes log
// (0.5 real + 0.5 fake for the BCE family, real + fake otherwise).
//
// For minimax and non-saturating, D ends in a Sigmoid in the recipes (`logits = false`,
// BCELoss with PyTorch's log clamp); with `logits = true` D outputs raw scores and the
// terms use the stable BCEWithLogits form. The other families take raw scores.
#pragma once
#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include "../latent.hpp"
#include "../nn/functional/loss.hpp"

namespace latent::gan {

enum class Loss { minimax, non_saturating, lsgan, wgan, wgan_gp, hinge };

struct LossName {
  Loss loss;
  std::string_view name;
};
// The names examples accept on the command line (`--loss wgan-gp`), with aliases.
inline constexpr std::array<LossName, 8> kLossNames{{{Loss::minimax, "minimax"},
                                                     {Loss::non_saturating, "ns"},
                                                     {Loss::non_saturating, "non-saturating"},
                                                     {Loss::non_saturating, "bce"},
                                                     {Loss::lsgan, "lsgan"},
                                                     {Loss::wgan, "wgan"},
                                                     {Loss::wgan_gp, "wgan-gp"},
                                                     {Loss::hinge, "hinge"}}};

inline Loss parse_loss(std::string_view name) {
  for (const auto& entry : kLossNames)
    if (entry.name == name) return entry.loss;
  std::string known;
  for (const auto& entry : kLossNames) known += (known.empty() ? "" : ", ") + std::string(entry.name);
  throw Error("gan::parse_loss: unknown loss '" + std::string(name) + "'; expected one of: " + known);
}

inline std::string_view loss_name(Loss loss) {
  for (const auto& entry : kLossNames)
    if (entry.loss == loss) return entry.name;
  return "?";
}

// Critic losses (no sigmoid, unbounded scores): the Wasserstein pair.
inline bool is_wasserstein(Loss loss) { return loss == Loss::wgan || loss == Loss::wgan_gp; }

struct AdversarialLoss {
  Loss kind = Loss::non_saturating;
  // minimax / non-saturating only: D's outputs are logits rather than probabilities.
  bool logits = false;
  // One-sided label smoothing: the target of real samples in the BCE family (e.g. 0.9).
  double real_label = 1.0;
  // LSGAN targets (R6): fake a, real b, and c for the generator.
  double lsgan_a = 0.0, lsgan_b = 1.0, lsgan_c = 1.0;

  AdversarialLoss() = default;
  explicit AdversarialLoss(Loss kind, bool logits = false) : kind(kind), logits(logits) {}

  bool bce_family() const { return kind == Loss::minimax || kind == Loss::non_saturating; }

  template <typename T>
  Tensor<T> discriminator_real(const Tensor<T>& d_real) const {
    switch (kind) {
      case Loss::minimax:
      case Loss::non_saturating: return bce(d_real, real_label);
      case Loss::lsgan: return 0.5 * (d_real - lsgan_b).square().mean();
      case Loss::wgan:
      case Loss::wgan_gp: return -d_real.mean();
      case Loss::hinge: return (1.0 - d_real).relu().mean();
    }
    throw Error("gan::AdversarialLoss: invalid loss kind");
  }

  template <typename T>
  Tensor<T> discriminator_fake(const Tensor<T>& d_fake) const {
    switch (kind) {
      case Loss::minimax:
      case Loss::non_saturating: return bce(d_fake, 0.0);
      case Loss::lsgan: return 0.5 * (d_fake - lsgan_a).square().mean();
      case Loss::wgan:
      case Loss::wgan_gp: return d_fake.mean();
      case Loss::hinge: return (1.0 + d_fake).relu().mean();
    }
    throw Error("gan::AdversarialLoss: invalid loss kind");
  }

  template <typename T>
  Tensor<T> generator(const Tensor<T>& d_fake) const {
    switch (kind) {
      // min E log(1 - D(G(z))): the negated BCE against the "fake" label.
      case Loss::minimax: return -bce(d_fake, 0.0);
      // The label flip: BCE(D(G(z)), 1).
      case Loss::non_saturating: return bce(d_fake, 1.0);
      case Loss::lsgan: return 0.5 * (d_fake - lsgan_c).square().mean();
      case Loss::wgan:
      case Loss::wgan_gp:
      case Loss::hinge: return -d_fake.mean();
    }
    throw Error("gan::AdversarialLoss: invalid loss kind");
  }

  // The discriminator loss as the recipes log it.
  double discriminator_log(double real_term, double fake_term) const {
    return bce_family() ? 0.5 * (real_term + fake_term) : real_term + fake_term;
  }

 private:
  template <typename T>
  Tensor<T> bce(const Tensor<T>& d, double label) const {
    auto target = full<T>(d.shape(), label, d.device());
    return logits ? nn::functional::binary_cross_entropy_with_logits(d, target)
                  : nn::functional::binary_cross_entropy(d, target);
  }
};

}  // namespace latent::gan
