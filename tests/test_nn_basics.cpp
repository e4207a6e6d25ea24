// nn::Module machinery, Linear, init, containers, optimizers, schedulers, EMA, clipping:
// against hand-computed values. (PyTorch-parity fixtures for layers and optimizers are
// the nn issue's next step.)
#include <latent/nn.hpp>

#include "helpers.hpp"

using namespace latent;

namespace {
struct TwoLayer : nn::UnaryModule<double> {
  std::shared_ptr<nn::Linear<double>> fc1, fc2;
  TwoLayer() : nn::UnaryModule<double>("TwoLayer") {
    fc1 = register_module("fc1", std::make_shared<nn::Linear<double>>(3, 4));
    fc2 = register_module("fc2", std::make_shared<nn::Linear<double>>(4, 2, false));
    register_buffer("steps", zeros<double>({1}));
  }
  TensorD forward(const TensorD& x) override { return fc2->forward(fc1->forward(x).tanh()); }
};
}  // namespace

TEST_CASE("nn: registration, dotted names, state_dict round trip", "[nn]") {
  auto net = std::make_shared<TwoLayer>();
  auto names = net->named_parameters();
  REQUIRE(names.size() == 3);
  REQUIRE(names[0].first == "fc1.weight");
  REQUIRE(names[1].first == "fc1.bias");
  REQUIRE(names[2].first == "fc2.weight");
  REQUIRE(net->num_parameters() == 3 * 4 + 4 + 4 * 2);
  auto sd = net->state_dict();
  REQUIRE(sd.size() == 4);
  REQUIRE(sd[0].first == "steps");  // as PyTorch: a module's own tensors, then its children's
  auto other = std::make_shared<TwoLayer>();
  other->load_state_dict(sd);
  auto x = randn<double>({5, 3});
  LATENT_REQUIRE_CLOSE(other->forward(x), net->forward(x), 0, 0);
  // The handles kept by the module see the loaded values (copied in place).
  LATENT_REQUIRE_CLOSE(other->fc1->weight, net->fc1->weight, 0, 0);

  nn::StateDict<double> missing(sd.begin(), sd.end() - 1);
  REQUIRE_THROWS_WITH(other->load_state_dict(missing), Catch::Contains("missing key(s): \"fc2.weight\""));
  auto extra = sd;
  extra.emplace_back("fc3.weight", zeros<double>({1}));
  REQUIRE_THROWS_WITH(other->load_state_dict(extra), Catch::Contains("unexpected key(s): \"fc3.weight\""));
  other->load_state_dict(extra, /*strict=*/false);
  auto wrong = sd;
  wrong[1].second = zeros<double>({2, 2});
  REQUIRE_THROWS_WITH(other->load_state_dict(wrong, false), Catch::Contains("size mismatch for fc1.weight"));
}

TEST_CASE("nn: train/eval, apply, zero_grad, printing", "[nn]") {
  auto net = std::make_shared<TwoLayer>();
  REQUIRE(net->is_training());
  net->eval();
  REQUIRE_FALSE(net->fc1->is_training());
  net->train();
  REQUIRE(net->fc2->is_training());
  int linears = 0;
  net->apply([&](nn::Module<double>& m) {
    if (auto* l = dynamic_cast<nn::Linear<double>*>(&m)) {
      ++linears;
      nn::init::constant_(l->weight, 0.5);
    }
  });
  REQUIRE(linears == 2);
  REQUIRE(net->fc2->weight.to_vector() == std::vector<double>(8, 0.5));
  net->forward(ones<double>({1, 3})).sum().backward();
  REQUIRE(net->fc1->weight.grad().defined());
  net->zero_grad();
  REQUIRE_FALSE(net->fc1->weight.grad().defined());
  std::ostringstream s;
  s << *net;
  REQUIRE(s.str().find("(fc1): Linear(in_features=3, out_features=4, bias=True)") != std::string::npos);
}

TEST_CASE("nn: Sequential chains heterogeneous modules; default Linear init bounds", "[nn]") {
  manual_seed(0);
  nn::Sequential<float> net{std::make_shared<nn::Linear<float>>(2, 50), nn::ReLU<float>(),
                            std::make_shared<nn::Linear<float>>(50, 1), nn::Sigmoid<float>()};
  REQUIRE(net.size() == 4);
  REQUIRE(net.named_parameters()[2].first == "2.weight");
  auto y = net.forward(randn<float>({8, 2}));
  REQUIRE(y.shape() == Shape{8, 1});
  REQUIRE(y.min().item() > 0.0f);
  auto fc = net.get<nn::Linear<float>>(2);
  REQUIRE(fc);
  // U(-1/sqrt(50), 1/sqrt(50)) as PyTorch
  double bound = 1 / std::sqrt(50.0);
  REQUIRE(fc->weight.abs().max().item() <= bound);
  nn::Linear<float> big(400, 300);
  double b = 1 / std::sqrt(400.0);
  REQUIRE(big.weight.abs().max().item() <= b);
  REQUIRE(std::abs(big.weight.std().item() - b / std::sqrt(3.0)) < 0.01 * b);
}

TEST_CASE("nn::init: distributions match PyTorch's formulas", "[nn][init]") {
  auto w = empty<double>({256, 128, 3, 3});
  auto fans = nn::init::calculate_fans(w);
  REQUIRE(fans.fan_in == 128 * 9);
  REQUIRE(fans.fan_out == 256 * 9);
  nn::init::kaiming_normal_(w, 0.0, "fan_in", "relu");
  REQUIRE(std::abs(w.std().item() - std::sqrt(2.0 / (128 * 9))) < 1e-3);
  nn::init::xavier_uniform_(w);
  double a = std::sqrt(6.0 / (128 * 9 + 256 * 9));
  REQUIRE(w.abs().max().item() <= a);
  REQUIRE(std::abs(w.std().item() - a / std::sqrt(3.0)) < 1e-3);
  nn::init::normal_(w, 0.0, 0.02);
  REQUIRE(std::abs(w.std().item() - 0.02) < 1e-4);
  REQUIRE(nn::init::calculate_gain("leaky_relu", 0.2) == Approx(std::sqrt(2.0 / 1.04)));
  auto q = empty<double>({6, 4});
  nn::init::orthogonal_(q);
  LATENT_REQUIRE_CLOSE(q.t().matmul(q), eye<double>(4), 0, 1e-12);
  auto r = empty<double>({3, 5});
  nn::init::orthogonal_(r, 2.0);
  LATENT_REQUIRE_CLOSE(r.matmul(r.t()), eye<double>(3) * 4.0, 0, 1e-12);
}

TEST_CASE("optim: SGD momentum/nesterov/weight decay against hand-computed steps", "[optim]") {
  auto p = tensor<double>({1.0, -2.0}).requires_grad_();
  optim::SGD<double> opt({p}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
  std::vector<double> w{1.0, -2.0}, buf{0, 0};
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    (p * p).sum().backward();  // g = 2p
    opt.step();
    for (int i = 0; i < 2; ++i) {
      double g = 2 * w[i] + 0.01 * w[i];
      buf[i] = step == 0 ? g : 0.9 * buf[i] + g;
      w[i] -= 0.1 * (g + 0.9 * buf[i]);
    }
    REQUIRE(p.to_vector()[0] == Approx(w[0]).epsilon(1e-14));
    REQUIRE(p.to_vector()[1] == Approx(w[1]).epsilon(1e-14));
  }
}

TEST_CASE("optim: Adam, AdamW, RMSprop against hand-computed steps", "[optim]") {
  for (int kind = 0; kind < 3; ++kind) {
    auto p = tensor<double>({0.5, -1.5, 3.0}).requires_grad_();
    std::unique_ptr<optim::OptimizerBase<double>> opt;
    if (kind == 0) opt = std::make_unique<optim::Adam<double>>(std::vector<TensorD>{p}, optim::AdamOptions{.lr = 0.01, .weight_decay = 0.1, .amsgrad = true});
    if (kind == 1) opt = std::make_unique<optim::AdamW<double>>(std::vector<TensorD>{p}, optim::AdamOptions{.lr = 0.01, .weight_decay = 0.1});
    if (kind == 2) opt = std::make_unique<optim::RMSprop<double>>(std::vector<TensorD>{p}, optim::RMSpropOptions{.lr = 0.01, .momentum = 0.5, .centered = true});
    std::vector<double> w{0.5, -1.5, 3.0}, m(3, 0), v(3, 0), vmax(3, 0), buf(3, 0), ga(3, 0);
    for (int t = 1; t <= 4; ++t) {
      opt->zero_grad();
      (p.pow(3.0)).sum().backward();  // g = 3p^2
      opt->step();
      for (int i = 0; i < 3; ++i) {
        double g = 3 * w[i] * w[i];
        if (kind == 0) g += 0.1 * w[i];
        if (kind == 1) w[i] *= 1 - 0.01 * 0.1;
        if (kind < 2) {
          m[i] = 0.9 * m[i] + 0.1 * g;
          v[i] = 0.999 * v[i] + 0.001 * g * g;
          vmax[i] = std::max(vmax[i], v[i]);
          double second = kind == 0 ? vmax[i] : v[i];
          w[i] -= 0.01 / (1 - std::pow(0.9, t)) * m[i] / (std::sqrt(second) / std::sqrt(1 - std::pow(0.999, t)) + 1e-8);
        } else {
          v[i] = 0.99 * v[i] + 0.01 * g * g;
          ga[i] = 0.99 * ga[i] + 0.01 * g;
          double avg = std::sqrt(v[i] - ga[i] * ga[i]) + 1e-8;
          buf[i] = 0.5 * buf[i] + g / avg;
          w[i] -= 0.01 * buf[i];
        }
      }
      for (int i = 0; i < 3; ++i) REQUIRE(p.to_vector()[i] == Approx(w[i]).epsilon(1e-12));
    }
  }
}

TEST_CASE("optim: state_dict round trip resumes bit for bit; param groups", "[optim]") {
  auto make = [] { return tensor<float>({0.3f, -0.7f, 1.1f}).requires_grad_(); };
  auto run = [](TensorF& p, optim::Adam<float>& opt, int steps) {
    for (int i = 0; i < steps; ++i) {
      opt.zero_grad();
      (p.sin() * p).sum().backward();
      opt.step();
    }
  };
  auto a = make();
  optim::Adam<float> opt_a({a}, {.lr = 0.05});
  run(a, opt_a, 6);
  auto b = make();
  optim::Adam<float> opt_b({b}, {.lr = 0.05});
  run(b, opt_b, 3);
  auto saved = opt_b.state_dict();
  auto c = b.detach().clone().requires_grad_();
  optim::Adam<float> opt_c({c}, {.lr = 0.123});
  opt_c.load_state_dict(saved);
  REQUIRE(opt_c.lr(0) == 0.05);
  run(c, opt_c, 3);
  REQUIRE(c.to_vector() == a.to_vector());

  auto p1 = ones<double>({2}).requires_grad_(), p2 = ones<double>({2}).requires_grad_();
  optim::SGD<double> sgd({{{p1}, {.lr = 0.1}}, {{p2}, {.lr = 1.0}}}, {.lr = 0.5});
  (p1.sum() + p2.sum()).backward();
  sgd.step();
  REQUIRE(p1.to_vector()[0] == Approx(0.9));
  REQUIRE(p2.to_vector()[0] == Approx(0.0));
  REQUIRE_THROWS_WITH(optim::SGD<double>({{{p1}, {}}, {{p1}, {}}}, {}), Catch::Contains("more than one parameter group"));
}

TEST_CASE("optim: LR schedules follow PyTorch's closed forms", "[optim]") {
  auto p = ones<double>({1}).requires_grad_();
  optim::SGD<double> opt({p}, {.lr = 1.0});
  optim::StepLR<double> step(opt, 2, 0.5);
  std::vector<double> seen;
  for (int e = 0; e < 5; ++e) {
    seen.push_back(opt.lr(0));
    step.step();
  }
  REQUIRE(seen == std::vector<double>{1, 1, 0.5, 0.5, 0.25});
  optim::SGD<double> opt2({p}, {.lr = 0.1});
  optim::CosineAnnealingLR<double> cos(opt2, 10, 0.001);
  for (int e = 0; e < 5; ++e) cos.step();
  REQUIRE(opt2.lr(0) == Approx(0.001 + (0.1 - 0.001) * (1 + std::cos(M_PI * 5 / 10)) / 2));
  optim::SGD<double> opt3({p}, {.lr = 0.3});
  optim::LinearLR<double> warm(opt3, 0.1, 1.0, 3);
  REQUIRE(opt3.lr(0) == Approx(0.03));
  for (int e = 0; e < 5; ++e) warm.step();
  REQUIRE(opt3.lr(0) == Approx(0.3));
  optim::SGD<double> opt4({p}, {.lr = 2.0});
  optim::ExponentialLR<double> ex(opt4, 0.5);
  ex.step();
  ex.step();
  REQUIRE(opt4.lr(0) == Approx(0.5));
  optim::LambdaLR<double> lam(opt4, [](int64_t e) { return 1.0 / (e + 1); });
  lam.step();
  REQUIRE(opt4.lr(0) == Approx(1.0));
}

TEST_CASE("optim: EMA and gradient clipping", "[optim]") {
  nn::Linear<double> net(2, 1);
  optim::EMA<double> ema(net, 0.9);
  auto w0 = net.weight.to_vector();
  {
    NoGradGuard no_grad;
    net.weight.add_(1.0);
  }
  ema.update(net);
  auto avg = ema.state_dict()[0].second.to_vector();
  for (size_t i = 0; i < avg.size(); ++i) REQUIRE(avg[i] == Approx(w0[i] + 0.1));
  nn::Linear<double> copy(2, 1);
  ema.copy_to(copy);
  LATENT_REQUIRE_CLOSE(copy.weight, ema.state_dict()[0].second, 0, 0);

  // Warm-up (diffusers' EMAModel): the first update copies, the n-th (n earlier updates)
  // uses min(decay, (1 + n) / (10 + n)).
  optim::EMA<double> warm(net, 0.5, /*warmup=*/true);
  REQUIRE(warm.current_decay() == 0.0);
  {
    NoGradGuard no_grad;
    net.weight.add_(1.0);
  }
  warm.update(net);
  LATENT_REQUIRE_CLOSE(warm.state_dict()[0].second, net.weight, 0, 0);
  REQUIRE(warm.current_decay() == Approx(2.0 / 11.0));
  const auto before = warm.state_dict()[0].second.clone();
  {
    NoGradGuard no_grad;
    net.weight.add_(1.0);
  }
  warm.update(net);
  LATENT_REQUIRE_CLOSE(warm.state_dict()[0].second, before * (2.0 / 11.0) + net.weight * (9.0 / 11.0), 1e-14, 1e-14);
  for (int k = 0; k < 20; ++k) warm.update(net);
  REQUIRE(warm.current_decay() == 0.5);  // (1 + 22) / (10 + 22) > 0.5: capped at decay

  auto a = ones<double>({3}).requires_grad_(), b = ones<double>({4}).requires_grad_();
  (a * 3.0).sum().backward();
  (b * 4.0).sum().backward();
  double total = optim::clip_grad_norm_<double>({a, b}, 1.0);
  REQUIRE(total == Approx(std::sqrt(3 * 9.0 + 4 * 16.0)));
  double clipped = std::sqrt(std::pow(a.grad().norm().item(), 2) + std::pow(b.grad().norm().item(), 2));
  REQUIRE(clipped == Approx(1.0).epsilon(1e-5));
  optim::clip_grad_value_<double>({a}, 0.1);
  REQUIRE(a.grad().abs().max().item() <= 0.1);
}
