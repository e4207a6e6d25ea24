// The GAN module: loss family terms against their formulas, gradient penalties (values,
// gradients through the input gradient), and gan::Trainer against a hand-written R2 step,
// with its options (n_critic, clipping, top-k, EMA, conditioning) and resume.
#include <latent/gan.hpp>
#include <latent/nn.hpp>

#include "helpers.hpp"

using namespace latent;
using latent::testing::TempDir;

namespace {

TensorD scores(std::initializer_list<double> v) { return tensor<double>(v).reshape({-1, 1}); }
double mean_of(const std::vector<double>& v, const std::function<double(double)>& f) {
  double s = 0;
  for (double x : v) s += f(x);
  return s / static_cast<double>(v.size());
}

}  // namespace

TEST_CASE("gan losses: names parse, unknown names list the known ones", "[gan]") {
  CHECK(gan::parse_loss("wgan-gp") == gan::Loss::wgan_gp);
  CHECK(gan::parse_loss("ns") == gan::Loss::non_saturating);
  CHECK(gan::parse_loss("minimax") == gan::Loss::minimax);
  CHECK(gan::loss_name(gan::Loss::hinge) == "hinge");
  REQUIRE_ERROR(gan::parse_loss("wgangp"), Catch::Contains("unknown loss 'wgangp'") && Catch::Contains("wgan-gp"));
}

TEST_CASE("gan losses: every term equals its formula (R6)", "[gan]") {
  const std::vector<double> real{0.9, 0.6, 0.75}, fake{0.2, 0.4, 0.05};
  auto dr = scores({0.9, 0.6, 0.75}), df = scores({0.2, 0.4, 0.05});
  auto log = [](double x) { return std::log(x); };

  gan::AdversarialLoss ns(gan::Loss::non_saturating);
  CHECK(ns.discriminator_real(dr).item() == Approx(mean_of(real, [&](double d) { return -log(d); })));
  CHECK(ns.discriminator_fake(df).item() == Approx(mean_of(fake, [&](double d) { return -log(1 - d); })));
  CHECK(ns.generator(df).item() == Approx(mean_of(fake, [&](double d) { return -log(d); })));
  CHECK(ns.discriminator_log(0.4, 0.2) == Approx(0.3));

  gan::AdversarialLoss minimax(gan::Loss::minimax);
  CHECK(minimax.generator(df).item() == Approx(mean_of(fake, [&](double d) { return log(1 - d); })));

  gan::AdversarialLoss smooth(gan::Loss::non_saturating);
  smooth.real_label = 0.9;
  CHECK(smooth.discriminator_real(dr).item() ==
        Approx(mean_of(real, [&](double d) { return -(0.9 * log(d) + 0.1 * log(1 - d)); })));

  // Logits give the same terms as probabilities after a sigmoid.
  gan::AdversarialLoss with_logits(gan::Loss::non_saturating, /*logits=*/true);
  auto logit = [](const TensorD& p) { return (p / (1.0 - p)).log(); };
  CHECK(with_logits.discriminator_real(logit(dr)).item() == Approx(ns.discriminator_real(dr).item()));
  CHECK(with_logits.discriminator_fake(logit(df)).item() == Approx(ns.discriminator_fake(df).item()));
  CHECK(with_logits.generator(logit(df)).item() == Approx(ns.generator(df).item()));

  const std::vector<double> sr{1.5, -0.5, 0.25}, sf{-1.25, 0.5, 2.0};
  auto tr = scores({1.5, -0.5, 0.25}), tf = scores({-1.25, 0.5, 2.0});
  gan::AdversarialLoss ls(gan::Loss::lsgan);
  CHECK(ls.discriminator_real(tr).item() == Approx(mean_of(sr, [](double d) { return 0.5 * (d - 1) * (d - 1); })));
  CHECK(ls.discriminator_fake(tf).item() == Approx(mean_of(sf, [](double d) { return 0.5 * d * d; })));
  CHECK(ls.generator(tf).item() == Approx(mean_of(sf, [](double d) { return 0.5 * (d - 1) * (d - 1); })));
  CHECK(ls.discriminator_log(0.5, 0.25) == Approx(0.75));

  for (auto kind : {gan::Loss::wgan, gan::Loss::wgan_gp}) {
    gan::AdversarialLoss w(kind);
    CHECK(w.discriminator_real(tr).item() == Approx(-mean_of(sr, [](double d) { return d; })));
    CHECK(w.discriminator_fake(tf).item() == Approx(mean_of(sf, [](double d) { return d; })));
    CHECK(w.generator(tf).item() == Approx(-mean_of(sf, [](double d) { return d; })));
  }
  gan::AdversarialLoss hinge(gan::Loss::hinge);
  CHECK(hinge.discriminator_real(tr).item() == Approx(mean_of(sr, [](double d) { return std::max(0.0, 1 - d); })));
  CHECK(hinge.discriminator_fake(tf).item() == Approx(mean_of(sf, [](double d) { return std::max(0.0, 1 + d); })));
  CHECK(hinge.generator(tf).item() == Approx(-mean_of(sf, [](double d) { return d; })));
}

TEST_CASE("gan losses: gradients (first and second order)", "[gan][gradcheck]") {
  for (auto kind : {gan::Loss::minimax, gan::Loss::non_saturating, gan::Loss::lsgan, gan::Loss::wgan, gan::Loss::hinge}) {
    for (bool logits : {false, true}) {
      if (logits && kind != gan::Loss::minimax && kind != gan::Loss::non_saturating) continue;
      gan::AdversarialLoss loss(kind, logits);
      INFO("loss " << gan::loss_name(kind) << (logits ? " (logits)" : ""));
      const bool probabilities = loss.bce_family() && !logits;
      auto x = probabilities ? testing::leaf({4, 1}, 11, 0.1, 0.9) : testing::leaf({4, 1}, 11, -0.9, 0.9);
      testing::check_grads([&](const std::vector<TensorD>& in) {
        return loss.discriminator_real(in[0]) + loss.discriminator_fake(in[0] * 0.5) + loss.generator(in[0]);
      }, {x});
    }
  }
}

TEST_CASE("gradient_penalty: a linear critic has gradient w everywhere", "[gan]") {
  // f(x) = x . w  =>  grad_x f = w for every sample, GP = (|w| - 1)^2.
  auto w = tensor<double>({3.0, 4.0}).requires_grad_();
  auto critic = [&](const TensorD& x) { return x.matmul(w); };
  auto real = tensor<double>({1, 2, 3, 4, 5, 6}, {3, 2}), fake = zeros<double>({3, 2});
  auto gp = gan::gradient_penalty(critic, real, fake, tensor<double>({0.1, 0.5, 0.9}));
  CHECK(gp.item() == Approx(16.0));
  // d GP / d w = 2 (|w| - 1) w / |w|: the penalty's backward goes through the input gradient.
  gp.backward();
  LATENT_REQUIRE_CLOSE(w.grad(), tensor<double>({2 * 4 * 3 / 5.0, 2 * 4 * 4 / 5.0}), 1e-12, 1e-12);

  auto r1 = gan::r1_penalty(critic, real);
  CHECK(r1.item() == Approx(25.0));
}

TEST_CASE("gradient_penalty and r1_penalty: gradcheck through a nonlinear critic", "[gan][gradcheck]") {
  auto real = testing::leaf({3, 2}, 1).detach(), fake = testing::leaf({3, 2}, 2).detach();
  auto mix = tensor<double>({0.2, 0.7, 0.4});
  auto w1 = testing::leaf({2, 5}, 3), w2 = testing::leaf({5, 1}, 4);
  auto critic_of = [](const TensorD& a, const TensorD& b) {
    return [a, b](const TensorD& x) { return x.matmul(a).tanh().matmul(b); };
  };
  autograd::DoubleFn gp = [&](const std::vector<TensorD>& p) {
    return gan::gradient_penalty(critic_of(p[0], p[1]), real, fake, mix);
  };
  autograd::DoubleFn r1 = [&](const std::vector<TensorD>& p) { return gan::r1_penalty(critic_of(p[0], p[1]), real); };
  testing::check_grads(gp, {w1, w2}, /*second_order=*/false);
  testing::check_grads(r1, {w1, w2}, /*second_order=*/false);
}

TEST_CASE("gradient_penalty: bad input", "[gan][errors]") {
  auto critic = [](const TensorD& x) { return x.sum({1}); };
  REQUIRE_ERROR(gan::gradient_penalty(critic, zeros<double>({3, 2}), zeros<double>({4, 2})),
                Catch::Contains("gradient_penalty") && Catch::Contains("same shape"));
  REQUIRE_ERROR(gan::gradient_penalty(critic, zeros<double>({3, 2}), zeros<double>({3, 2}), zeros<double>({2})),
                Catch::Contains("mix must have shape (3)"));
}

namespace {

std::shared_ptr<nn::Sequential<double>> mlp(int64_t in, int64_t hidden, int64_t out, bool sigmoid) {
  auto net = nn::sequential<double>(std::make_shared<nn::Linear<double>>(in, hidden), nn::ReLU<double>(),
                                    std::make_shared<nn::Linear<double>>(hidden, out));
  if (sigmoid) net->push_back(nn::Sigmoid<double>());
  return net;
}

struct Pair {
  std::shared_ptr<nn::Sequential<double>> G, D;
  std::unique_ptr<optim::Adam<double>> opt_g, opt_d;
  explicit Pair(uint64_t seed, bool sigmoid = true) {
    manual_seed(seed);
    G = mlp(3, 8, 2, false);
    D = mlp(2, 8, 1, sigmoid);
    optim::AdamOptions o;
    o.lr = 1e-2;
    opt_g = std::make_unique<optim::Adam<double>>(G->parameters(), o);
    opt_d = std::make_unique<optim::Adam<double>>(D->parameters(), o);
  }
};

void require_same_parameters(nn::Module<double>& a, nn::Module<double>& b, double tol = 1e-12) {
  auto pa = a.parameters(), pb = b.parameters();
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) LATENT_REQUIRE_CLOSE(pa[i], pb[i], tol, tol);
}

TensorD parabola(int64_t n, uint64_t seed) {
  Generator gen(seed);
  auto x = uniform<double>({n, 1}, -1, 1, gen);
  return cat<double>({x, x.square()}, 1);
}

}  // namespace

TEST_CASE("gan::Trainer: one step is the recipe's R2 step, with or without the quirk", "[gan]") {
  for (bool detach : {true, false}) {
    INFO("detach_fake " << detach);
    Pair a(7), manual(7);
    gan::TrainerOptions o;
    o.latent_dim = 3;
    o.seed = 42;
    o.detach_fake = detach;
    gan::Trainer<double> trainer(a.G, a.D, *a.opt_g, *a.opt_d, o);

    Generator noise(42);  // the trainer's stream: z ~ N(0, 1) per step
    nn::BCELoss<double> bce;
    for (int step = 0; step < 3; ++step) {
      auto real = parabola(16, 100 + step);
      auto stats = trainer.step(real);
      // The recipe, written out (RECIPES R2), fake not detached as in the seed.
      auto z = randn<double>({16, 3}, noise);
      manual.D->zero_grad();
      auto d_real = bce((*manual.D)(real), ones<double>({16, 1}));
      d_real.backward();
      auto fake = (*manual.G)(z);
      auto d_fake = bce((*manual.D)(fake), zeros<double>({16, 1}));
      d_fake.backward();
      manual.opt_d->step();
      manual.G->zero_grad();
      auto g_loss = bce((*manual.D)((*manual.G)(z)), ones<double>({16, 1}));
      g_loss.backward();
      manual.opt_g->step();

      CHECK(stats.generator_stepped);
      CHECK(stats.d_loss == Approx(0.5 * (d_real.item() + d_fake.item())).epsilon(1e-12));
      CHECK(stats.g_loss == Approx(g_loss.item()).epsilon(1e-12));
      require_same_parameters(*a.D, *manual.D);
      require_same_parameters(*a.G, *manual.G);
    }
  }
}

TEST_CASE("gan::Trainer: n_critic, weight clipping, WGAN-GP and top-k", "[gan]") {
  Pair p(3, /*sigmoid=*/false);
  gan::TrainerOptions o;
  o.loss = gan::AdversarialLoss(gan::Loss::wgan_gp);
  o.latent_dim = 3;
  o.n_critic = 3;
  o.top_k = 4;
  gan::Trainer<double> trainer(p.G, p.D, *p.opt_g, *p.opt_d, o);
  auto g_before = p.G->parameters()[0].clone();
  for (int i = 1; i <= 2; ++i) {
    auto s = trainer.step(parabola(8, i));
    CHECK_FALSE(s.generator_stepped);
    CHECK(s.penalty > 0);
    CHECK(s.d_loss == Approx(s.d_real + s.d_fake + s.penalty));
  }
  LATENT_REQUIRE_CLOSE(p.G->parameters()[0], g_before, 0, 0);
  auto s = trainer.step(parabola(8, 3));
  CHECK(s.generator_stepped);
  CHECK(s.d_steps == 3);
  CHECK(s.g_steps == 1);
  CHECK_FALSE(testing::all_close(p.G->parameters()[0], g_before, 0.0, 0.0));

  Pair c(4, false);
  gan::TrainerOptions w;
  w.loss = gan::AdversarialLoss(gan::Loss::wgan);
  w.latent_dim = 3;
  w.clip_value = 0.01;
  gan::Trainer<double> clipped(c.G, c.D, *c.opt_g, *c.opt_d, w);
  clipped.step(parabola(8, 5));
  for (auto& param : c.D->parameters()) CHECK(param.abs().max().item() <= 0.01);
}

TEST_CASE("gan::Trainer: EMA, sampling and callbacks", "[gan]") {
  Pair p(5);
  gan::TrainerOptions o;
  o.latent_dim = 3;
  o.ema_decay = 0.5;
  gan::Trainer<double> trainer(p.G, p.D, *p.opt_g, *p.opt_d, o);
  int calls = 0;
  trainer.on_step([&](gan::Trainer<double>& t, const gan::StepStats& s) {
    ++calls;
    CHECK(&t == &trainer);
    CHECK(s.d_steps == calls);
  });
  auto initial = p.G->state_dict();
  std::vector<TensorD> before;
  for (auto& [n, t] : initial) before.push_back(t.clone());
  trainer.step(parabola(8, 1));
  CHECK(calls == 1);
  // One update with decay 0.5: the average is halfway between the old and the new weights.
  auto state = p.G->state_dict();
  for (size_t i = 0; i < state.size(); ++i)
    LATENT_REQUIRE_CLOSE(trainer.ema()->state_dict()[i].second, (before[i] + state[i].second) * 0.5, 1e-12, 1e-12);
  auto z = trainer.noise(4);
  auto with_ema = trainer.sample(z), without = trainer.sample(z, {}, false);
  CHECK_FALSE(with_ema.requires_grad());
  CHECK_FALSE(testing::all_close(with_ema, without, 0.0, 0.0));
  // sample() put G's own weights back.
  LATENT_REQUIRE_CLOSE(trainer.sample(z, {}, false), without, 0, 0);
  CHECK(p.G->is_training());
}

TEST_CASE("gan::Trainer: a run that saves and resumes trains exactly as one that did not stop", "[gan][checkpoint]") {
  TempDir dir;
  auto path = dir.path / "gan.safetensors";
  gan::TrainerOptions o;
  o.latent_dim = 3;
  o.ema_decay = 0.9;
  o.seed = 9;

  Pair straight(11);
  gan::Trainer<double> full(straight.G, straight.D, *straight.opt_g, *straight.opt_d, o);
  for (int i = 0; i < 4; ++i) {
    full.step(parabola(8, i));
    if (i == 1) full.save(path);
  }
  Pair resumed(12);  // other initial weights: everything must come from the file
  gan::Trainer<double> second(resumed.G, resumed.D, *resumed.opt_g, *resumed.opt_d, o);
  second.load(path);
  CHECK(second.d_steps() == 2);
  for (int i = 2; i < 4; ++i) second.step(parabola(8, i));
  require_same_parameters(*straight.G, *resumed.G, 0);
  require_same_parameters(*straight.D, *resumed.D, 0);
  for (size_t i = 0; i < full.ema()->state_dict().size(); ++i)
    LATENT_REQUIRE_CLOSE(full.ema()->state_dict()[i].second, second.ema()->state_dict()[i].second, 0, 0);
}

TEST_CASE("gan::Trainer: conditional generation concatenates label embeddings", "[gan]") {
  manual_seed(1);
  auto G = std::make_shared<gan::ConditionalGenerator<double>>(4, 2, mlp(5, 8, 2, false));
  auto D = std::make_shared<gan::ConditionalDiscriminator<double>>(4, 3, mlp(5, 8, 1, true));
  optim::Adam<double> opt_g(G->parameters(), {}), opt_d(D->parameters(), {});
  gan::TrainerOptions o;
  o.latent_dim = 3;
  o.num_classes = 4;
  gan::Trainer<double> trainer(G, D, opt_g, opt_d, o);
  auto labels = from_vector<int64_t>({0, 1, 2, 3, 0, 1});
  auto s = trainer.step(parabola(6, 1), labels);
  CHECK(std::isfinite(s.g_loss));
  // Both embeddings learned something.
  CHECK(G->embedding->weight.grad().defined());
  CHECK(D->embedding->weight.grad().defined());
  CHECK(trainer.sample(trainer.noise(6), labels).shape() == Shape{6, 2});
  REQUIRE_ERROR(trainer.step(parabola(6, 1)), Catch::Contains("needs labels of shape (6)"));

  // An image discriminator takes the label as one more channel of H * W entries.
  auto conv = nn::sequential<double>(std::make_shared<nn::Conv2d<double>>(2, 1, 3), nn::Flatten<double>());
  gan::ConditionalDiscriminator<double> image_d(4, 25, conv);
  CHECK(image_d(zeros<double>({2, 1, 5, 5}), from_vector<int64_t>({1, 3})).shape() == Shape{2, 9});
  REQUIRE_ERROR(image_d(zeros<double>({2, 1, 4, 4}), from_vector<int64_t>({1, 3})),
                Catch::Contains("H * W = 16") && Catch::Contains("got 25"));
}

// Rows of the generator's label embedding that received a gradient.
std::vector<int64_t> embedding_rows_with_gradient(gan::ConditionalGenerator<double>& G) {
  const auto grad = G.embedding->weight.grad();
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < grad.size(0); ++r)
    if (grad.select(0, r).abs().sum().item() > 0) rows.push_back(r);
  return rows;
}

TEST_CASE("gan::Trainer: a conditional gradient penalty mixes reals with fakes of the same class", "[gan]") {
  auto run = [](gan::Loss loss) {
    manual_seed(3);
    auto G = std::make_shared<gan::ConditionalGenerator<double>>(4, 2, mlp(5, 8, 2, false));
    auto D = std::make_shared<gan::ConditionalDiscriminator<double>>(4, 3, mlp(5, 8, 1, true));
    optim::Adam<double> opt_g(G->parameters(), {}), opt_d(D->parameters(), {});
    gan::TrainerOptions o;
    o.loss = gan::AdversarialLoss(loss);
    o.latent_dim = 3;
    o.num_classes = 4;
    gan::Trainer<double> trainer(G, D, opt_g, opt_d, o);
    trainer.step(parabola(8, 1), full<int64_t>({8}, 2));  // every real sample is of class 2
    return embedding_rows_with_gradient(*G);
  };
  // G's step reuses the D step's fake labels: only class 2's embedding learns with WGAN-GP,
  // while uniform fake labels reach other classes.
  CHECK(run(gan::Loss::wgan_gp) == std::vector<int64_t>{2});
  CHECK(run(gan::Loss::non_saturating).size() > 1);
}

TEST_CASE("gan recipes: the R6 optimizer settings per loss", "[gan]") {
  auto wgan = gan::recipe_for(gan::Loss::wgan);
  CHECK(wgan.optimizer == "rmsprop");
  CHECK(wgan.lr == 5e-5);
  CHECK(wgan.n_critic == 5);
  CHECK(wgan.clip_value == 0.01);
  auto gp = gan::recipe_for(gan::Loss::wgan_gp);
  CHECK(gp.lr == 1e-4);
  CHECK(gp.beta1 == 0.0);
  CHECK(gp.beta2 == 0.9);
  auto params = std::vector<TensorD>{zeros<double>({2}).requires_grad_()};
  CHECK(dynamic_cast<optim::RMSprop<double>*>(gan::make_optimizer<double>(wgan, params).get()) != nullptr);
  REQUIRE_ERROR(gan::make_optimizer<double>({"sgd", 1, 0, 0, 1, 0}, params), Catch::Contains("unknown optimizer 'sgd'"));
}
