// LibTorch (PyTorch's C++ API) peer of benchmarks/core_bench.cpp: the same workloads,
// shapes and timing method (bench_harness.hpp), printing `BENCH lib=libtorch ...` lines.
// Built by the separate CMake project in benchmarks/peers/libtorch/ against the LibTorch
// shipped inside the torch wheel (see scripts/bench.sh).
//
//   libtorch_bench [--threads 1,2] [--workloads gemm_f32,add_f32,chain_f32,mlp_fwd_bwd,mlp_fwd,mlp_gemms,tiny_add,tiny_autograd,
//                                   gan_parabola,gan_dcgan,unet_train,unet_sample]
//                  [--gemm-sizes 256,512,1024,2048] [--min-time 0.3] [--reps 5]
//              [--fixed-iters N]   (N calls per repetition: for perf/valgrind runs)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <torch/csrc/autograd/autograd.h>
#include <torch/nn.h>
#include <torch/optim.h>

#include <string>
#include <vector>

#include "bench_harness.hpp"

namespace {

constexpr int64_t kElementwiseN = int64_t(1) << 20;
constexpr int64_t kTinyN = 64;

struct Mlp {
  at::Tensor x, w1, b1, w2, b2, w3, b3;
  Mlp() {
    at::manual_seed(0);
    x = at::randn({512, 2});
    w1 = (at::randn({2, 50}) * 0.5).requires_grad_();
    b1 = (at::randn({50}) * 0.1).requires_grad_();
    w2 = (at::randn({50, 50}) * 0.14).requires_grad_();
    b2 = (at::randn({50}) * 0.1).requires_grad_();
    w3 = (at::randn({50, 1}) * 0.14).requires_grad_();
    b3 = (at::randn({1}) * 0.1).requires_grad_();
  }
  at::Tensor loss() const {
    auto h1 = (x.mm(w1) + b1).relu();
    auto h2 = (h1.mm(w2) + b2).relu();
    auto out = h2.mm(w3) + b3;
    return out.square().mean();
  }
  void zero_grad() {
    // As torch.optim's zero_grad() default (set_to_none=True) and latent's zero_grad().
    for (at::Tensor* p : {&w1, &b1, &w2, &b2, &w3, &b3}) p->mutable_grad().reset();
  }
};

// RECIPES R2's G and D (LibTorch's default init, as PyTorch's and latent's).
std::pair<torch::nn::Sequential, torch::nn::Sequential> parabola_gan() {
  namespace nn = torch::nn;
  nn::Sequential G(nn::Linear(10, 50), nn::ReLU(), nn::Linear(50, 50), nn::ReLU(), nn::Linear(50, 2));
  nn::Sequential D(nn::Linear(2, 50), nn::ReLU(), nn::Linear(50, 50), nn::ReLU(), nn::Linear(50, 1), nn::Sigmoid());
  return {G, D};
}

// RECIPES R3's DCGAN G and D for 32x32 single-channel images, with R3's init.
std::pair<torch::nn::Sequential, torch::nn::Sequential> dcgan() {
  namespace nn = torch::nn;
  auto lrelu = [] { return nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)); };
  nn::Sequential G(nn::Linear(100, 128 * 8 * 8), nn::Unflatten(nn::UnflattenOptions(1, {128, 8, 8})),
                   nn::BatchNorm2d(128), nn::ConvTranspose2d(nn::ConvTranspose2dOptions(128, 128, 4).stride(2).padding(1)),
                   nn::BatchNorm2d(128), lrelu(),
                   nn::ConvTranspose2d(nn::ConvTranspose2dOptions(128, 64, 4).stride(2).padding(1)), nn::BatchNorm2d(64),
                   lrelu(), nn::Conv2d(nn::Conv2dOptions(64, 1, 3).stride(1).padding(1)), nn::Tanh());
  nn::Sequential D;
  const int64_t widths[] = {1, 16, 32, 64, 128};
  for (int b = 0; b < 4; ++b) {
    D->push_back(nn::Conv2d(nn::Conv2dOptions(widths[b], widths[b + 1], 3).stride(2).padding(1)));
    D->push_back(lrelu());
    D->push_back(nn::Dropout2d(0.25));
    if (b > 0) D->push_back(nn::BatchNorm2d(nn::BatchNorm2dOptions(widths[b + 1]).eps(0.8)));  // R3's quirk
  }
  D->push_back(nn::Flatten());
  D->push_back(nn::Linear(128 * 2 * 2, 1));
  D->push_back(nn::Sigmoid());
  // Conv and linear weights N(0, 0.02); BatchNorm weight N(1, 0.02), bias 0.
  torch::NoGradGuard no_grad;
  for (auto* net : {&G, &D}) {
    for (auto& m : (*net)->modules(/*include_self=*/false)) {
      if (auto* c = m->as<nn::Conv2d>()) c->weight.normal_(0.0, 0.02);
      if (auto* c = m->as<nn::ConvTranspose2d>()) c->weight.normal_(0.0, 0.02);
      if (auto* l = m->as<nn::Linear>()) l->weight.normal_(0.0, 0.02);
      if (auto* bn = m->as<nn::BatchNorm2d>()) {
        bn->weight.normal_(1.0, 0.02);
        bn->bias.zero_();
      }
    }
  }
  return {G, D};
}

// One step of latent's gan::Trainer (BCE, n_critic 1, fake detached for D's step), op for op
// as torch_bench.py's gan_step, so that the three libraries do the same work: G's forward
// runs once and its graph is reused for G's step; the targets are made per loss call (as the
// trainer's full()); the same statistics are read back (three losses, mean D(real), mean D(fake)).
void gan_step(torch::nn::Sequential& G, torch::nn::Sequential& D, torch::optim::Adam& opt_g,
              torch::optim::Adam& opt_d, const at::Tensor& real, int64_t latent_dim, std::vector<double>& stats) {
  namespace F = torch::nn::functional;
  auto z = at::randn({real.size(0), latent_dim});
  auto fake = G->forward(z);
  D->zero_grad();  // set_to_none = true, as latent's zero_grad()
  auto d_real = D->forward(real);
  auto loss_real = F::binary_cross_entropy(d_real, at::full(d_real.sizes(), 1.0));
  loss_real.backward();
  auto d_fake = D->forward(fake.detach());
  auto loss_fake = F::binary_cross_entropy(d_fake, at::full(d_fake.sizes(), 0.0));
  loss_fake.backward();
  stats = {loss_real.item<double>(), loss_fake.item<double>(), d_real.detach().mean().item<double>(),
           d_fake.detach().mean().item<double>()};
  opt_d.step();
  G->zero_grad();
  auto d_out = D->forward(fake);
  auto g_loss = F::binary_cross_entropy(d_out, at::full(d_out.sizes(), 1.0));
  g_loss.backward();
  opt_g.step();
  stats.push_back(g_loss.item<double>());
}

// The course's seed U-Net (RECIPES R10) in LibTorch's C++ frontend, module for module as the
// seed's Python (benchmarks/peers/torch_bench.py: SeedUNet): same layers, widths, GELU,
// GroupNorm(1), bias-free 3x3 convolutions, bilinear align_corners upsampling and 4-head
// MultiheadAttention with need_weights (the seed's default). The C++ MultiheadAttention has no
// batch_first: the (N, L, E) tokens are transposed to (L, N, E) around it.
namespace seed {
namespace nn = torch::nn;

struct ResNetBlockImpl : nn::Module {
  ResNetBlockImpl(int64_t in, int64_t out, int64_t mid = 0, bool residual = false) : residual(residual) {
    if (mid == 0) mid = out;
    conv_stack = register_module(
        "conv_stack", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, mid, 3).padding(1).bias(false)),
                                     nn::GroupNorm(1, mid), nn::GELU(),
                                     nn::Conv2d(nn::Conv2dOptions(mid, out, 3).padding(1).bias(false)),
                                     nn::GroupNorm(1, out)));
  }
  at::Tensor forward(const at::Tensor& x) {
    return residual ? at::gelu(x + conv_stack->forward(x)) : conv_stack->forward(x);
  }
  bool residual;
  nn::Sequential conv_stack{nullptr};
};
TORCH_MODULE(ResNetBlock);

// The seed's ResizeBlock: x + Linear(SiLU(t)) broadcast over H x W (by repeat, as the seed).
struct ResizeBlock : nn::Module {
  ResizeBlock(int64_t out, int64_t emb_dim) {
    emb_projection = register_module("emb_projection", nn::Sequential(nn::SiLU(), nn::Linear(emb_dim, out)));
  }
  at::Tensor add_emb(const at::Tensor& x, const at::Tensor& t) {
    auto emb = emb_projection->forward(t).unsqueeze(-1).unsqueeze(-1).repeat({1, 1, x.size(-2), x.size(-1)});
    return x + emb;
  }
  nn::Sequential emb_projection{nullptr};
};

struct DownImpl : ResizeBlock {
  DownImpl(int64_t in, int64_t out, int64_t emb_dim = 256) : ResizeBlock(out, emb_dim) {
    maxpool_conv = register_module("maxpool_conv", nn::Sequential(nn::MaxPool2d(2), ResNetBlock(in, in, 0, true),
                                                                  ResNetBlock(in, out)));
  }
  at::Tensor forward(const at::Tensor& x, const at::Tensor& t) { return add_emb(maxpool_conv->forward(x), t); }
  nn::Sequential maxpool_conv{nullptr};
};
TORCH_MODULE(Down);

struct UpImpl : ResizeBlock {
  UpImpl(int64_t in, int64_t out, int64_t emb_dim = 256) : ResizeBlock(out, emb_dim) {
    up = register_module("up", nn::Upsample(nn::UpsampleOptions()
                                                .scale_factor(std::vector<double>{2.0, 2.0})
                                                .mode(torch::kBilinear)
                                                .align_corners(true)));
    conv = register_module("conv", nn::Sequential(ResNetBlock(in, in, 0, true), ResNetBlock(in, out, in / 2)));
  }
  at::Tensor forward(const at::Tensor& x, const at::Tensor& skip, const at::Tensor& t) {
    auto h = at::cat({skip, up->forward(x)}, 1);
    return add_emb(conv->forward(h), t);
  }
  nn::Upsample up{nullptr};
  nn::Sequential conv{nullptr};
};
TORCH_MODULE(Up);

struct SelfAttentionImpl : nn::Module {
  SelfAttentionImpl(int64_t channels, int64_t size) : channels(channels), size(size) {
    mha = register_module("mha", nn::MultiheadAttention(nn::MultiheadAttentionOptions(channels, 4)));
    ln = register_module("ln", nn::LayerNorm(nn::LayerNormOptions({channels})));
    mlp = register_module("mlp", nn::Sequential(nn::LayerNorm(nn::LayerNormOptions({channels})),
                                                nn::Linear(channels, channels), nn::GELU(),
                                                nn::Linear(channels, channels)));
  }
  at::Tensor forward(const at::Tensor& input) {
    auto x = input.view({-1, channels, size * size}).swapaxes(1, 2);  // (N, L, C)
    auto x_ln = ln->forward(x).transpose(0, 1);                        // (L, N, C)
    auto attention_value = std::get<0>(mha->forward(x_ln, x_ln, x_ln)).transpose(0, 1);
    attention_value = attention_value + x;
    attention_value = mlp->forward(attention_value) + attention_value;
    return attention_value.swapaxes(2, 1).view({-1, channels, size, size});
  }
  int64_t channels, size;
  nn::MultiheadAttention mha{nullptr};
  nn::LayerNorm ln{nullptr};
  nn::Sequential mlp{nullptr};
};
TORCH_MODULE(SelfAttention);

struct UNetImpl : nn::Module {
  UNetImpl(int64_t num_channels = 3, int64_t img_size = 64, int64_t time_embed_dim = 256)
      : time_dim(time_embed_dim) {
    inc = register_module("inc", ResNetBlock(num_channels, 64));
    down1 = register_module("down1", Down(64, 128));
    sa1 = register_module("sa1", SelfAttention(128, img_size / 2));
    down2 = register_module("down2", Down(128, 256));
    sa2 = register_module("sa2", SelfAttention(256, img_size / 4));
    down3 = register_module("down3", Down(256, 256));
    sa3 = register_module("sa3", SelfAttention(256, img_size / 8));
    conv_bottleneck = register_module("conv_bottleneck",
                                      nn::Sequential(ResNetBlock(256, 512), SelfAttention(512, img_size / 8),
                                                     ResNetBlock(512, 256)));
    up1 = register_module("up1", Up(512, 128));
    sa4 = register_module("sa4", SelfAttention(128, img_size / 4));
    up2 = register_module("up2", Up(256, 64));
    sa5 = register_module("sa5", SelfAttention(64, img_size / 2));
    up3 = register_module("up3", Up(128, 64));
    sa6 = register_module("sa6", SelfAttention(64, img_size));
    outc = register_module("outc", nn::Conv2d(nn::Conv2dOptions(64, num_channels, 1)));
  }
  // The seed's pos_encoding: pe[:, 0::2] = sin(t f), pe[:, 1::2] = cos(t f), t (N, 1).
  at::Tensor pos_encoding(const at::Tensor& t) {
    auto pe = at::zeros({t.size(0), time_dim});
    auto div_factors = at::exp(at::arange(0, time_dim, 2) * (-std::log(10000.0) / double(time_dim)));
    using at::indexing::None;
    using at::indexing::Slice;
    pe.index_put_({Slice(), Slice(0, None, 2)}, at::sin(t * div_factors));
    pe.index_put_({Slice(), Slice(1, None, 2)}, at::cos(t * div_factors));
    return pe;
  }
  at::Tensor forward(const at::Tensor& x, const at::Tensor& timesteps) {
    auto t = pos_encoding(timesteps.unsqueeze(-1).to(at::kFloat));
    auto x1 = inc->forward(x);
    auto x2 = sa1->forward(down1->forward(x1, t));
    auto x3 = sa2->forward(down2->forward(x2, t));
    auto x4 = sa3->forward(down3->forward(x3, t));
    x4 = conv_bottleneck->forward(x4);
    auto h = sa4->forward(up1->forward(x4, x3, t));
    h = sa5->forward(up2->forward(h, x2, t));
    h = sa6->forward(up3->forward(h, x1, t));
    return outc->forward(h);
  }
  int64_t time_dim;
  ResNetBlock inc{nullptr};
  Down down1{nullptr}, down2{nullptr}, down3{nullptr};
  SelfAttention sa1{nullptr}, sa2{nullptr}, sa3{nullptr}, sa4{nullptr}, sa5{nullptr}, sa6{nullptr};
  nn::Sequential conv_bottleneck{nullptr};
  Up up1{nullptr}, up2{nullptr}, up3{nullptr};
  nn::Conv2d outc{nullptr};
};
TORCH_MODULE(UNet);

}  // namespace seed

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"LibTorch peer benchmarks (BENCH lines on stdout)"};
  std::vector<int> threads{1, 2};
  std::vector<int> gemm_sizes{256, 512, 1024, 2048};
  std::vector<std::string> workloads;
  bench::Options opt;
  app.add_option("--threads", threads, "thread counts to run each workload at")->delimiter(',');
  app.add_option("--gemm-sizes", gemm_sizes, "square GEMM sizes")->delimiter(',');
  app.add_option("--workloads", workloads,
                 "subset of gemm_f32,add_f32,chain_f32,mlp_fwd_bwd,mlp_fwd,mlp_gemms,tiny_add,tiny_autograd,"
                 "gan_parabola,gan_dcgan,unet_train,unet_sample (default: all)")
      ->delimiter(',');
  app.add_option("--min-time", opt.min_time, "seconds per figure (all repetitions)");
  app.add_option("--reps", opt.reps, "repetitions per figure (median reported)");
  app.add_option("--fixed-iters", opt.fixed_iters, "calls per repetition, no calibration (for profilers)");
  CLI11_PARSE(app, argc, argv);

  const std::string lib = "libtorch";
  at::init_num_threads();
  for (int nt : threads) {
    at::set_num_threads(nt);

    if (bench::selected(workloads, "gemm_f32")) {
      for (int n : gemm_sizes) {
        at::manual_seed(1);
        auto a = at::randn({n, n}), b = at::randn({n, n});
        at::Tensor c;
        auto t = bench::time_it([&] { c = at::mm(a, b); }, opt);
        double flops = 2.0 * double(n) * n * n;
        bench::report(lib, "gemm_f32", n, nt, "gflops", flops / t.median_s * 1e-9, t);
      }
    }
    if (bench::selected(workloads, "add_f32")) {
      at::manual_seed(2);
      auto a = at::randn({kElementwiseN}), b = at::randn({kElementwiseN});
      at::Tensor c;
      auto t = bench::time_it([&] { c = a + b; }, opt);
      bench::report(lib, "add_f32", kElementwiseN, nt, "us", t.median_s * 1e6, t);
      bench::report(lib, "add_f32", kElementwiseN, nt, "gbps", 12.0 * kElementwiseN / t.median_s * 1e-9, t);
    }
    if (bench::selected(workloads, "chain_f32")) {
      at::manual_seed(3);
      auto a = at::randn({kElementwiseN}), b = at::randn({kElementwiseN}), c = at::randn({kElementwiseN});
      at::Tensor s;
      auto t = bench::time_it([&] { s = (a * b + c).relu().sum(); }, opt);
      bench::report(lib, "chain_f32", kElementwiseN, nt, "us", t.median_s * 1e6, t);
    }
    if (bench::selected(workloads, "mlp_fwd_bwd")) {
      Mlp mlp;
      auto t = bench::time_it([&] {
        mlp.zero_grad();
        auto loss = mlp.loss();
        loss.backward();
      }, opt);
      bench::report(lib, "mlp_fwd_bwd", 512, nt, "us", t.median_s * 1e6, t);
    }
    if (bench::selected(workloads, "mlp_fwd")) {
      Mlp mlp;
      at::Tensor loss;
      auto t = bench::time_it([&] { loss = mlp.loss(); }, opt);
      bench::report(lib, "mlp_fwd", 512, nt, "us", t.median_s * 1e6, t);
    }
    if (bench::selected(workloads, "mlp_gemms")) {
      at::manual_seed(4);
      auto x = at::randn({512, 2}), w1 = at::randn({2, 50}), w2 = at::randn({50, 50}), w3 = at::randn({50, 1}),
           h1 = at::randn({512, 50}), h2 = at::randn({512, 50}), g1 = at::randn({512, 50}),
           g2 = at::randn({512, 50}), g3 = at::randn({512, 1});
      std::vector<at::Tensor> r(8);
      auto t = bench::time_it([&] {
        r[0] = at::mm(x, w1), r[1] = at::mm(h1, w2), r[2] = at::mm(h2, w3);
        r[3] = at::mm(h2.t(), g3), r[4] = at::mm(g3, w3.t()), r[5] = at::mm(h1.t(), g2);
        r[6] = at::mm(g2, w2.t()), r[7] = at::mm(x.t(), g1);
      }, opt);
      bench::report(lib, "mlp_gemms", 512, nt, "us", t.median_s * 1e6, t);
    }
    if (bench::selected(workloads, "tiny_add")) {
      at::manual_seed(5);
      auto a = at::randn({kTinyN}), b = at::randn({kTinyN});
      at::Tensor c;
      auto t = bench::time_it([&] { c = a + b; }, opt);
      bench::report(lib, "tiny_add", kTinyN, nt, "us", t.median_s * 1e6, t);
    }
    if (bench::selected(workloads, "tiny_autograd")) {
      at::manual_seed(6);
      auto a = at::randn({kTinyN}).requires_grad_(), b = at::randn({kTinyN}).requires_grad_();
      auto t = bench::time_it([&] {
        a.mutable_grad().reset();
        b.mutable_grad().reset();
        (a * b + a).sum().backward();
      }, opt);
      bench::report(lib, "tiny_autograd", kTinyN, nt, "us", t.median_s * 1e6, t);
    }
    std::vector<double> stats;
    if (bench::selected(workloads, "gan_parabola")) {
      at::manual_seed(9);
      auto [G, D] = parabola_gan();
      auto x = at::rand({512, 1}) * 2 - 1;
      auto real = at::cat({x, x * x}, 1);  // (512, 2) points (x, x^2), x ~ U(-1, 1)
      torch::optim::Adam opt_g(G->parameters(), torch::optim::AdamOptions(3e-4)),
          opt_d(D->parameters(), torch::optim::AdamOptions(3e-4));
      auto t = bench::time_it([&] { gan_step(G, D, opt_g, opt_d, real, 10, stats); }, opt);
      bench::report(lib, "gan_parabola", 512, nt, "us", t.median_s * 1e6, t);
    }
    if (bench::selected(workloads, "gan_dcgan")) {
      at::manual_seed(10);
      auto [G, D] = dcgan();
      auto real = at::rand({64, 1, 32, 32}) * 2 - 1;
      auto adam = torch::optim::AdamOptions(2e-4).betas({0.5, 0.999});
      torch::optim::Adam opt_g(G->parameters(), adam), opt_d(D->parameters(), adam);
      auto t = bench::time_it([&] { gan_step(G, D, opt_g, opt_d, real, 100, stats); }, opt);
      bench::report(lib, "gan_dcgan", 64, nt, "us", t.median_s * 1e6, t);
    }
    // Diffusion U-Net (issue 5), as torch_bench.py's unet_train and unet_sample.
    if (bench::selected(workloads, "unet_train")) {
      at::manual_seed(12);
      seed::UNet model(1, 32);
      torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-3));  // weight decay 1e-2
      const int64_t n = 8;
      auto x = at::randn({n, 1, 32, 32});
      auto t = bench::time_it([&] {
        auto ts = at::randint(1, 1000, {n});
        auto noise = at::randn_like(x);
        auto loss = torch::nn::functional::mse_loss(model->forward(x, ts), noise);
        loss.backward();
        optimizer.step();
        optimizer.zero_grad();  // set_to_none = true
      }, opt);
      bench::report(lib, "unet_train", n, nt, "us", t.median_s * 1e6, t);
    }
    if (bench::selected(workloads, "unet_sample")) {
      at::manual_seed(13);
      seed::UNet model(1, 32);
      model->eval();
      // The seed's linear schedule and update at timestep i (> 1: noise drawn).
      auto beta_all = at::linspace(1e-4, 0.02, 1000), alpha_all = 1.0 - beta_all;
      auto alpha_hat_all = at::cumprod(alpha_all, 0);
      const int64_t n = 16, i = 500;
      auto x = at::randn({n, 1, 32, 32});
      at::Tensor prev;
      auto t = bench::time_it([&] {
        c10::InferenceMode guard;
        auto ts = (at::ones({n}) * i).to(at::kLong);
        auto predicted_noise = model->forward(x, ts);
        auto alpha = alpha_all.index({ts}).view({n, 1, 1, 1});
        auto alpha_hat = alpha_hat_all.index({ts}).view({n, 1, 1, 1});
        auto beta = beta_all.index({ts}).view({n, 1, 1, 1});
        auto noise = at::randn_like(x);
        prev = 1 / at::sqrt(alpha) * (x - ((1 - alpha) / at::sqrt(1 - alpha_hat)) * predicted_noise) +
               at::sqrt(beta) * noise;
      }, opt);
      bench::report(lib, "unet_sample", n, nt, "us", t.median_s * 1e6, t);
    }
  }
  return 0;
}
