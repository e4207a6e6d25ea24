// gan::Trainer: the RECIPES R2 step order for any generator and discriminator, with the
// R6 loss family and training tricks as options.
//
//   gan::TrainerOptions o;
//   o.loss = gan::AdversarialLoss(gan::parse_loss("wgan-gp"));
//   o.latent_dim = 100;
//   o.n_critic = 5;
//   gan::Trainer<float> trainer(G, D, opt_g, opt_d, o);
//   for (auto& batch : loader) {
//     auto stats = trainer.step(batch.images);          // one D step; a G step every n_critic
//     if (stats.generator_stepped) log(stats);
//   }
//   trainer.save("out/checkpoint.safetensors");          // resume with trainer.load(...)
//
// One call of step(real) is one discriminator step:
//   z ~ N(0, 1); D.zero_grad; loss_real(D(real)).backward; fake = G(z);
//   loss_fake(D(fake)).backward; [lambda * GP].backward; [gamma/2 * R1].backward;
//   D.step; [clip D's weights]
// and every n_critic-th call also a generator step with the same z:
//   G.zero_grad; loss_G(D(G(z))).backward; G.step; [EMA update]
//
// By default the D step sees the fake batch detached (the sound choice: no backward through
// G). `detach_fake = false` reproduces the recipes' quirk: D's backward then also writes
// gradients into G, which G.zero_grad clears before G's own backward. When the G step
// follows in the same call (n_critic = 1), G's forward runs once and its graph is reused for
// the G step; G's weights have not changed in between, so the gradients are those of the
// recipe's second forward.
#pragma once
#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>

#include "../io/checkpoint.hpp"
#include "../nn.hpp"
#include "conditional.hpp"
#include "losses.hpp"
#include "penalty.hpp"

namespace latent::gan {

struct TrainerOptions {
  AdversarialLoss loss;
  int64_t latent_dim = 100;
  int n_critic = 1;               // D steps per G step
  double clip_value = 0;          // WGAN weight clipping of D's parameters to [-c, c]; 0 = off
  double gp_weight = 10;          // lambda of the gradient penalty (used by wgan-gp)
  double r1_gamma = 0;            // R1 penalty gamma / 2 * E||grad D(real)||^2; 0 = off
  bool detach_fake = true;        // false: the recipes' quirk (D's backward reaches G)
  double instance_noise = 0;      // std of Gaussian noise added to every input of D; 0 = off
  int64_t top_k = 0;              // G's loss from the k fakes D scores highest; 0 = all
  double feature_matching = 0;    // weight of ||mean f(real) - mean f(fake)||^2 in G's loss
  double ema_decay = 0;           // EMA of G's weights (e.g. 0.999); 0 = off
  int64_t num_classes = 0;        // conditional GANs: fake labels uniform over [0, num_classes),
                                  // except with wgan-gp (the real batch's labels, see step)
  uint64_t seed = 0;              // the trainer's generator: noise, penalties' mixing, labels
};

// What the recipes use with each loss (RECIPES R3 and R6): optimizer and its settings, D
// steps per G step, weight clipping.
struct LossRecipe {
  std::string optimizer;  // "adam" or "rmsprop"
  double lr, beta1, beta2;
  int n_critic;
  double clip_value;
};

inline LossRecipe recipe_for(Loss loss) {
  switch (loss) {
    case Loss::wgan: return {"rmsprop", 5e-5, 0, 0, 5, 0.01};
    case Loss::wgan_gp: return {"adam", 1e-4, 0.0, 0.9, 5, 0};
    default: return {"adam", 2e-4, 0.5, 0.999, 1, 0};
  }
}

template <typename T = float>
std::unique_ptr<optim::OptimizerBase<T>> make_optimizer(const LossRecipe& r, std::vector<Tensor<T>> params) {
  if (r.optimizer == "rmsprop") {
    optim::RMSpropOptions o;
    o.lr = r.lr;
    return std::make_unique<optim::RMSprop<T>>(std::move(params), o);
  }
  LATENT_CHECK(r.optimizer == "adam", "gan::make_optimizer: unknown optimizer '", r.optimizer,
               "'; expected adam or rmsprop");
  optim::AdamOptions o;
  o.lr = r.lr;
  o.beta1 = r.beta1;
  o.beta2 = r.beta2;
  return std::make_unique<optim::Adam<T>>(std::move(params), o);
}

struct StepStats {
  int64_t d_steps = 0, g_steps = 0;  // totals after this call
  bool generator_stepped = false;
  double d_loss = 0;      // as the recipes log it (AdversarialLoss::discriminator_log) + penalties
  double d_real = 0, d_fake = 0;  // the two D terms
  double penalty = 0;     // lambda * GP + gamma / 2 * R1 (already in d_loss)
  double g_loss = 0;      // the last G loss (this step's when generator_stepped)
  double d_x = 0, d_g_z = 0;  // mean D output on real and on fake samples
};

template <typename T = float>
class Trainer {
 public:
  using Forward = std::function<Tensor<T>(const Tensor<T>&, const IndexTensor&)>;
  using Features = std::function<Tensor<T>(const Tensor<T>&)>;
  using Callback = std::function<void(Trainer&, const StepStats&)>;

  Trainer(std::shared_ptr<nn::UnaryModule<T>> G, std::shared_ptr<nn::UnaryModule<T>> D,
          optim::OptimizerBase<T>& opt_g, optim::OptimizerBase<T>& opt_d, TrainerOptions options)
      : Trainer(G, D, [G](const Tensor<T>& z, const IndexTensor&) { return (*G)(z); },
                [D](const Tensor<T>& x, const IndexTensor&) { return (*D)(x); }, opt_g, opt_d, options, false) {}

  Trainer(std::shared_ptr<ConditionalGenerator<T>> G, std::shared_ptr<ConditionalDiscriminator<T>> D,
          optim::OptimizerBase<T>& opt_g, optim::OptimizerBase<T>& opt_d, TrainerOptions options)
      : Trainer(G, D, [G](const Tensor<T>& z, const IndexTensor& y) { return (*G)(z, y); },
                [D](const Tensor<T>& x, const IndexTensor& y) { return (*D)(x, y); }, opt_g, opt_d, options, true) {
    LATENT_CHECK(options.num_classes > 0, "gan::Trainer: a conditional GAN needs options.num_classes > 0");
  }

  // Feature matching: `f` maps D's input to an intermediate D representation.
  Trainer& set_features(Features f) {
    features_ = std::move(f);
    return *this;
  }
  // Called after every step (logging, sampling, checkpointing).
  Trainer& on_step(Callback cb) {
    callbacks_.push_back(std::move(cb));
    return *this;
  }

  // One discriminator step on a real batch (with its labels for a conditional GAN), and a
  // generator step when it is due. The batch moves to the models' device (a data loader
  // yields CPU tensors).
  StepStats step(const Tensor<T>& real_batch, const IndexTensor& batch_labels = {}) {
    const Device dev = device();
    const Tensor<T> real = real_batch.defined() ? real_batch.to(dev) : real_batch;
    const IndexTensor labels = batch_labels.defined() ? batch_labels.to(dev) : batch_labels;
    LATENT_CHECK(real.dim() >= 2 && real.size(0) > 0, "gan::Trainer.step: expected a batch (N, ...), got shape ",
                 real.shape());
    LATENT_CHECK(!conditional_ || (labels.defined() && labels.dim() == 1 && labels.size(0) == real.size(0)),
                 "gan::Trainer.step: a conditional GAN needs labels of shape (", real.size(0), ")",
                 labels.defined() ? latent::detail::str_cat(", got ", labels.shape()) : std::string(", got none"));
    const int64_t n = real.size(0);
    const bool g_due = (d_steps_ + 1) % options_.n_critic == 0;
    StepStats s;

    z_ = randn<T>({n, options_.latent_dim}, rng_, real.device());
    // A conditional gradient penalty scores each real/fake interpolate with the real sample's
    // label, so the fake it mixes with must be of that class too: the fakes take the real
    // labels. Otherwise fake labels are uniform, as in R7.
    if (!conditional_)
      fake_labels_ = IndexTensor();
    else if (gradient_penalty_on())
      fake_labels_ = labels;
    else
      fake_labels_ = randint(0, options_.num_classes, {n}, rng_, real.device());

    // The fake batch: with a graph when the G step will reuse it or D's backward must reach G.
    const bool keep_graph = g_due || !options_.detach_fake;
    Tensor<T> fake;
    {
      GradModeGuard mode(keep_graph && is_grad_enabled());
      fake = generate_(z_, fake_labels_);
    }

    // ---- discriminator ----
    D_->zero_grad();
    auto d_real_out = discriminate_(noisy(real), labels);
    auto loss_real = options_.loss.discriminator_real(d_real_out);
    loss_real.backward();
    auto fake_for_d = options_.detach_fake ? fake.detach() : fake;
    auto d_fake_out = discriminate_(noisy(fake_for_d), fake_labels_);
    auto loss_fake = options_.loss.discriminator_fake(d_fake_out);
    // With the quirk, G's graph is needed again by the G step.
    loss_fake.backward(Tensor<T>(), /*retain_graph=*/!options_.detach_fake && g_due);
    s.d_real = loss_real.item();
    s.d_fake = loss_fake.item();
    s.d_x = d_real_out.detach().mean().item();
    s.d_g_z = d_fake_out.detach().mean().item();
    if (gradient_penalty_on()) {
      auto critic = [this, &labels](const Tensor<T>& x) { return discriminate_(x, labels); };
      auto gp = options_.gp_weight * gradient_penalty(critic, real, fake.detach(), rng_);
      gp.backward();
      s.penalty += gp.item();
    }
    if (options_.r1_gamma > 0) {
      auto critic = [this, &labels](const Tensor<T>& x) { return discriminate_(x, labels); };
      auto r1 = (0.5 * options_.r1_gamma) * r1_penalty(critic, real);
      r1.backward();
      s.penalty += r1.item();
    }
    opt_d_.step();
    if (options_.clip_value > 0) {
      NoGradGuard no_grad;
      for (auto& p : D_->parameters()) p.clamp_(-options_.clip_value, options_.clip_value);
    }
    ++d_steps_;
    s.d_loss = options_.loss.discriminator_log(s.d_real, s.d_fake) + s.penalty;

    // ---- generator ----
    if (g_due) {
      G_->zero_grad();
      if (!fake.requires_grad()) fake = generate_(z_, fake_labels_);  // grad mode was off outside
      auto d_out = discriminate_(noisy(fake), fake_labels_);
      if (options_.top_k > 0 && options_.top_k < n) d_out = top_k_rows(d_out, options_.top_k);
      auto g_loss = options_.loss.generator(d_out);
      if (options_.feature_matching > 0) {
        LATENT_CHECK(features_ != nullptr, "gan::Trainer: feature_matching > 0 needs set_features(...)");
        Tensor<T> real_mean;
        {
          NoGradGuard no_grad;
          real_mean = features_(real).mean({0});
        }
        auto fake_mean = features_(fake).mean({0});
        g_loss = g_loss + options_.feature_matching * (real_mean - fake_mean).square().sum();
      }
      g_loss.backward();
      opt_g_.step();
      if (ema_) ema_->update(*G_);
      ++g_steps_;
      last_g_loss_ = g_loss.item();
      s.generator_stepped = true;
    }
    s.g_loss = last_g_loss_;
    s.d_steps = d_steps_;
    s.g_steps = g_steps_;
    for (auto& cb : callbacks_) cb(*this, s);
    return s;
  }

  // Samples from G (its EMA weights when kept and `use_ema`), in eval mode and without a
  // graph; G's weights and mode are restored afterwards.
  Tensor<T> sample(const Tensor<T>& z, const IndexTensor& labels = {}, bool use_ema = true) {
    LATENT_CHECK(!conditional_ || labels.defined(), "gan::Trainer.sample: a conditional GAN needs labels");
    NoGradGuard no_grad;
    const bool was_training = G_->is_training();
    std::optional<nn::StateDict<T>> saved;
    if (use_ema && ema_) {
      saved.emplace();
      for (auto& [name, t] : G_->state_dict()) saved->emplace_back(name, t.clone());
      ema_->copy_to(*G_);
    }
    G_->eval();
    auto out = generate_(z.to(device()), labels.defined() ? labels.to(device()) : labels);
    G_->train(was_training);
    if (saved) G_->load_state_dict(*saved);
    return out;
  }
  // Fresh noise of the trainer's latent size from its generator.
  Tensor<T> noise(int64_t n) { return randn<T>({n, options_.latent_dim}, rng_, device()); }

  // Registers G, D, both optimizers, the EMA and the trainer's generator with `ckpt`.
  void add_to(io::Checkpoint& ckpt) {
    ckpt.add("G", *G_).add("D", *D_).add("opt_g", opt_g_).add("opt_d", opt_d_).add("rng", rng_);
    if (ema_) ckpt.add("ema", *ema_);
  }
  // A checkpoint of the whole training state; `extra` may add more items (schedulers, the
  // data loader's generator) and counters before it is written.
  void save(const std::filesystem::path& path, const std::function<void(io::Checkpoint&)>& extra = {}) {
    io::Checkpoint ckpt;
    add_to(ckpt);
    ckpt.counters["d_steps"] = d_steps_;
    ckpt.counters["g_steps"] = g_steps_;
    if (extra) extra(ckpt);
    ckpt.save(path);
  }
  // Restores what save() wrote; `extra` must register the same extra items. Returns the
  // checkpoint (its counters and metadata) for the caller's own bookkeeping.
  io::Checkpoint load(const std::filesystem::path& path, const std::function<void(io::Checkpoint&)>& extra = {}) {
    io::Checkpoint ckpt;
    add_to(ckpt);
    if (extra) extra(ckpt);
    ckpt.load(path);
    d_steps_ = ckpt.counters.at("d_steps");
    g_steps_ = ckpt.counters.at("g_steps");
    return ckpt;
  }

  const TrainerOptions& options() const { return options_; }
  // Options may change between steps (annealed instance noise, a new n_critic).
  TrainerOptions& options() { return options_; }
  int64_t d_steps() const { return d_steps_; }
  int64_t g_steps() const { return g_steps_; }
  Generator& generator() { return rng_; }
  optim::EMA<T>* ema() { return ema_.get(); }
  nn::Module<T>& generator_module() { return *G_; }
  nn::Module<T>& discriminator_module() { return *D_; }

 private:
  Trainer(std::shared_ptr<nn::Module<T>> G, std::shared_ptr<nn::Module<T>> D, Forward generate, Forward discriminate,
          optim::OptimizerBase<T>& opt_g, optim::OptimizerBase<T>& opt_d, TrainerOptions options, bool conditional)
      : G_(std::move(G)), D_(std::move(D)), generate_(std::move(generate)), discriminate_(std::move(discriminate)),
        opt_g_(opt_g), opt_d_(opt_d), options_(options), conditional_(conditional), rng_(options.seed) {
    LATENT_CHECK(G_ && D_, "gan::Trainer: the generator or the discriminator is null");
    LATENT_CHECK(options_.latent_dim > 0, "gan::Trainer: latent_dim must be positive, got ", options_.latent_dim);
    LATENT_CHECK(options_.n_critic >= 1, "gan::Trainer: n_critic must be at least 1, got ", options_.n_critic);
    LATENT_CHECK(options_.clip_value >= 0 && options_.instance_noise >= 0 && options_.top_k >= 0 &&
                     options_.feature_matching >= 0 && options_.r1_gamma >= 0 && options_.gp_weight >= 0,
                 "gan::Trainer: clip_value, instance_noise, top_k, feature_matching, r1_gamma and gp_weight must "
                 "not be negative");
    LATENT_CHECK(options_.ema_decay >= 0 && options_.ema_decay < 1, "gan::Trainer: ema_decay must be in [0, 1), got ",
                 options_.ema_decay);
    if (options_.ema_decay > 0) ema_ = std::make_unique<optim::EMA<T>>(*G_, options_.ema_decay);
  }

  bool gradient_penalty_on() const { return options_.loss.kind == Loss::wgan_gp && options_.gp_weight > 0; }

  Device device() const {
    auto params = G_->parameters();
    return params.empty() ? kCPU : params.front().device();
  }
  Tensor<T> noisy(const Tensor<T>& x) {
    if (options_.instance_noise <= 0) return x;
    return x + options_.instance_noise * randn<T>(x.shape(), rng_, x.device());
  }
  // The rows of `scores` (N, ...) with the k highest mean scores, by descending score.
  static Tensor<T> top_k_rows(const Tensor<T>& scores, int64_t k) {
    auto flat = scores.detach().reshape({scores.size(0), -1}).mean({1}).contiguous().to(kCPU);
    std::vector<int64_t> order(static_cast<size_t>(flat.numel()));
    std::iota(order.begin(), order.end(), 0);
    const T* v = flat.data();
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [v](int64_t a, int64_t b) { return v[a] > v[b]; });
    order.resize(static_cast<size_t>(k));
    auto index = from_vector(order).to(scores.device());
    return index_select(scores, 0, index);
  }

  std::shared_ptr<nn::Module<T>> G_, D_;
  Forward generate_, discriminate_;
  optim::OptimizerBase<T>& opt_g_;
  optim::OptimizerBase<T>& opt_d_;
  TrainerOptions options_;
  bool conditional_;
  Generator rng_;
  std::unique_ptr<optim::EMA<T>> ema_;
  Features features_;
  std::vector<Callback> callbacks_;
  int64_t d_steps_ = 0, g_steps_ = 0;
  double last_g_loss_ = 0;
  Tensor<T> z_;  // the step's noise and fake labels, shared by its D and G parts
  IndexTensor fake_labels_;
};

}  // namespace latent::gan
